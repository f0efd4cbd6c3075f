"""The validation rules' limits, in a module that does not import great-expectations: the
Dagster shell reads these defaults when the code location loads."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleSettings:
    """Limits the rules use; the validation assets fill these from their run config."""

    timezone: str = "Asia/Shanghai"
    currencies: tuple[str, ...] = ("CNY",)
    max_quantity: int = 1000
    max_unit_price: float = 1_000_000.0
