"""The validation rules' limits and look-back windows, in a module that imports neither Dagster nor
great-expectations: the Dagster shell reads these defaults when the code location loads, the pure
split uses them, and the recommender declares its order window with the same constant."""

from dataclasses import dataclass

# Reviews arrive days or weeks after their order; a review of an order older than this, or of one
# that was quarantined, is quarantined as unknown_order. Re-materializing the review's day after a
# late order lands re-validates it (each partition is replaced, never appended to).
ORDER_LOOKBACK_DAYS = 60
# An id validated on one of this many earlier days is a duplicate (the declared self-dependency window).
DUPLICATE_LOOKBACK_DAYS = 365


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
