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
    # Length caps in characters (code points), on the trimmed values (rule too_long_<column>): a
    # field far longer than any real one is a broken export or an attack, and must not reach the
    # silver tables, the joins and the report. The sample's ids have at most 9 characters, its
    # categories 11 and its review texts 2,876.
    max_id_chars: int = 64  # order_id, customer_id, product_id, review_id
    max_field_chars: int = 256  # every other field but review_text: category, status, numbers, timestamps
    max_review_text_chars: int = 10_000

    def __post_init__(self) -> None:
        for name in ("max_id_chars", "max_field_chars", "max_review_text_chars"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 character, got {getattr(self, name)}")
