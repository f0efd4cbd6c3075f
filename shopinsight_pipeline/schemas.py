"""Every table's columns and types, in one place.

Bronze tables keep the landing values as text so nothing is parsed away before validation;
silver and gold tables are typed. Assets and tests import these instead of repeating names.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa

ORDER_FIELDS: tuple[str, ...] = (
    "order_id",
    "customer_id",
    "product_id",
    "category",
    "quantity",
    "unit_price",
    "currency",
    "order_ts",
    "status",
)
REVIEW_FIELDS: tuple[str, ...] = (
    "review_id",
    "order_id",
    "product_id",
    "rating",
    "review_text",
    "review_ts",
)

# The catalogue a shop exports each day (landing/products/products_YYYY-MM-DD.csv): the products
# dimension that puts names beside ids in insights, the report and recommendation reasons.
PRODUCT_FIELDS: tuple[str, ...] = ("product_id", "product_name", "category", "brand", "list_price")
# The stock export (issue 28): per product, end-of-day stock, units on order and when they arrive.
INVENTORY_FIELDS: tuple[str, ...] = (
    "product_id",
    "on_hand",
    "on_order",
    "expected_arrival",
    "lead_time_days",
    "unit_cost",
)

# Identifier columns: joined on downstream, so a control character in one is a defect of its own.
ORDER_ID_COLUMNS: tuple[str, ...] = ("order_id", "customer_id", "product_id")
REVIEW_ID_COLUMNS: tuple[str, ...] = ("review_id", "order_id", "product_id")

ORDER_STATUSES: tuple[str, ...] = ("placed", "shipped", "delivered", "returned", "cancelled")

# Where each bronze row came from: the landing file and its 1-based line number.
LINEAGE_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "line_number": pl.Int64(),
}

RAW_ORDERS_SCHEMA: dict[str, pl.DataType] = {
    **{field: pl.String() for field in ORDER_FIELDS},
    "field_count": pl.Int32(),  # fields found on the line; != len(ORDER_FIELDS) means malformed
    "extra_fields": pl.String(),  # anything past the known columns, verbatim
    "decode_error": pl.String(),  # the line is not valid UTF-8: the bad byte and its offset, else null
    **LINEAGE_SCHEMA,
}

RAW_REVIEWS_SCHEMA: dict[str, pl.DataType] = {
    **{field: pl.String() for field in REVIEW_FIELDS},
    "parse_error": pl.String(),  # why the line is not a JSON object, else null
    "type_errors": pl.String(),  # fields of the wrong JSON type ("review_text is an object, ..."), else null
    "repeated_keys": pl.String(),  # keys given more than once on the line (ambiguous), else null
    "extra_fields": pl.String(),  # unknown keys as a JSON object, else null
    "decode_error": pl.String(),  # the line is not valid UTF-8: the bad byte and its offset, else null
    **LINEAGE_SCHEMA,
}

UTC_TIMESTAMP = pl.Datetime("us", "UTC")

RAW_INVENTORY_SCHEMA: dict[str, pl.DataType] = {
    **{field: pl.String() for field in INVENTORY_FIELDS},
    "field_count": pl.Int32(),  # fields found on the line; != len(INVENTORY_FIELDS) means malformed
    "extra_fields": pl.String(),
    "decode_error": pl.String(),
    **LINEAGE_SCHEMA,
}

VALIDATED_ORDERS_SCHEMA: dict[str, pl.DataType] = {
    "order_id": pl.String(),
    "customer_id": pl.String(),
    "product_id": pl.String(),
    "category": pl.String(),
    "quantity": pl.Int32(),
    "unit_price": pl.Float64(),
    "currency": pl.String(),
    "order_ts": UTC_TIMESTAMP,
    "order_date": pl.Date(),  # business day in the shop's timezone
    "status": pl.String(),
    "line_total": pl.Float64(),
    **LINEAGE_SCHEMA,
}

VALIDATED_REVIEWS_SCHEMA: dict[str, pl.DataType] = {
    "review_id": pl.String(),
    "order_id": pl.String(),
    "product_id": pl.String(),
    "rating": pl.Int8(),
    "review_text": pl.String(),
    "review_ts": UTC_TIMESTAMP,
    "review_date": pl.Date(),
    **LINEAGE_SCHEMA,
}

VALIDATED_INVENTORY_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),  # the day the stock was counted (end of day): the file's day
    "product_id": pl.String(),
    "on_hand": pl.Int32(),
    "on_order": pl.Int32(),
    "expected_arrival": pl.Date(),  # null when nothing is on order
    "lead_time_days": pl.Int32(),
    "unit_cost": pl.Float64(),
    **LINEAGE_SCHEMA,
}

# Quarantine keeps the bronze row untouched plus why it was rejected.
QUARANTINE_COLUMNS: dict[str, pl.DataType] = {
    "rejected_rules": pl.List(pl.String()),
    "reason": pl.String(),
}
QUARANTINED_ORDERS_SCHEMA = {**RAW_ORDERS_SCHEMA, **QUARANTINE_COLUMNS}
QUARANTINED_INVENTORY_SCHEMA = {**RAW_INVENTORY_SCHEMA, **QUARANTINE_COLUMNS}
QUARANTINED_REVIEWS_SCHEMA = {**RAW_REVIEWS_SCHEMA, **QUARANTINE_COLUMNS}

PRODUCTS_SCHEMA: dict[str, pl.DataType] = {
    "product_id": pl.String(),
    "product_name": pl.String(),
    "category": pl.String(),
    "brand": pl.String(),
    "list_price": pl.Float64(),
    **LINEAGE_SCHEMA,
}
# A catalogue line as read (text), with the rules it broke.
QUARANTINED_PRODUCTS_SCHEMA: dict[str, pl.DataType] = {
    **{field: pl.String() for field in PRODUCT_FIELDS},
    **LINEAGE_SCHEMA,
    **QUARANTINE_COLUMNS,
}

DAILY_SALES_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "category": pl.String(),
    "orders": pl.UInt32(),  # orders not cancelled
    "units": pl.Int64(),
    "revenue": pl.Float64(),  # gross: quantity * unit_price of orders not cancelled
    "avg_order_value": pl.Float64(),
    "return_rate": pl.Float64(),  # returned / orders
}


TRENDS_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "category": pl.String(),
    "revenue": pl.Float64(),
    "units": pl.Int64(),
    "revenue_ma7": pl.Float64(),
    "revenue_ma28": pl.Float64(),
    "units_ma7": pl.Float64(),
    "units_ma28": pl.Float64(),
    "wow_growth": pl.Float64(),  # last 7 days' revenue / the 7 before - 1
    "growth_28d": pl.Float64(),  # last 28 days' revenue / the 28 before - 1
    "seasonal_residual": pl.Float64(),  # revenue - median of the same weekday in past weeks
    "robust_z": pl.Float64(),  # residual's robust z-score (median / MAD over the last 28 days)
    "anomaly": pl.Boolean(),
    "history_days": pl.UInt32(),
    "note": pl.String(),
}

FORECAST_SCHEMA: dict[str, pl.DataType] = {
    "run_date": pl.Date(),
    "category": pl.String(),
    "target_date": pl.Date(),  # the forecast day (run_date + horizon_day); the partition key is run_date
    "horizon_day": pl.Int32(),
    **{
        f"{measure}{suffix}": pl.Float64()
        for measure in ("revenue", "units")
        for suffix in ("", "_lo80", "_hi80", "_lo95", "_hi95")
    },
    "revenue_method": pl.String(),
    "units_method": pl.String(),
    "note": pl.String(),
}

# product_demand_forecast: per run date, product and day ahead (inventory/demand.py).
PRODUCT_DEMAND_FORECAST_SCHEMA: dict[str, pl.DataType] = {
    "run_date": pl.Date(),
    "product_id": pl.String(),
    "category": pl.String(),
    "target_date": pl.Date(),  # run_date + horizon_day; the partition key is run_date
    "horizon_day": pl.Int32(),
    "method": pl.String(),
    "mean": pl.Float64(),
    "p10": pl.Float64(),
    "p50": pl.Float64(),
    "p90": pl.Float64(),
    "sales_event": pl.String(),  # the calendar's event on target_date (its uplift is in mean), else null
    "sd": pl.Float64(),  # standard deviation of the day's demand (inventory/demand.py Forecast.spread)
    "day_correlation": pl.Float64(),  # how alike the errors of the days ahead are (inventory/demand.py)
    "backtest_mase": pl.Float64(),  # the served method's MASE on this product's backtest, null when unscored
    "backtest_coverage80": pl.Float64(),  # its 80% intervals' coverage there
}

# inventory_plan: per run date and product counted that day (inventory/plan.py).
INVENTORY_PLAN_SCHEMA: dict[str, pl.DataType] = {
    "run_date": pl.Date(),
    "product_id": pl.String(),
    "stock_date": pl.Date(),  # the stock count the plan used: the run date's, else the latest before it
    "on_hand": pl.Int32(),
    "on_order": pl.Int32(),
    "expected_arrival": pl.Date(),
    "lead_time_days": pl.Int32(),
    "unit_cost": pl.Float64(),
    "forecast_method": pl.String(),
    "days_of_cover": pl.Float64(),
    "stockout_probability": pl.Float64(),
    "reorder_point": pl.Int64(),
    "order_up_to": pl.Int64(),
    "suggested_order": pl.Int64(),
    "lead_time_demand": pl.Float64(),
    "overstock": pl.Boolean(),
    "excess_units": pl.Int64(),
    "overstock_value": pl.Float64(),
    "stockout_days_7d": pl.Int32(),  # days of the last 7 that ended with the shelf empty
    "lost_units_7d": pl.Float64(),  # units estimated lost on them (censored demand)
    "service_level": pl.Float64(),
    "note": pl.String(),
}

INSIGHTS_SCHEMA: dict[str, pl.DataType] = {
    "run_date": pl.Date(),
    "rank": pl.Int32(),
    "type": pl.String(),
    "entity_type": pl.String(),
    "entity": pl.String(),
    "entity_name": pl.String(),  # the product's name from the products dimension, where known
    "severity": pl.String(),
    "score": pl.Float64(),
    "value": pl.Float64(),
    "reference": pl.Float64(),
    "numbers": pl.List(pl.String()),
    "sentence": pl.String(),
    "language": pl.String(),
}

# One row per (customer, product, event) of a day: purchase (+1), return (-1), review ((stars - 3) / 2).
CUSTOMER_EVENTS_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "customer_id": pl.String(),
    "product_id": pl.String(),
    "category": pl.String(),
    "event": pl.String(),
    "weight": pl.Float64(),
    "order_id": pl.String(),
    "event_ts": UTC_TIMESTAMP,
    "quantity": pl.Int32(),  # purchase and return; null for a review
    "value": pl.Float64(),  # line total (negative for a return); null for a review
    "rating": pl.Int8(),  # review stars; null otherwise
}

# Per day (restricted): each customer with an event and the pseudonym gold tables show for them.
CUSTOMER_PSEUDONYMS_SCHEMA: dict[str, pl.DataType] = {"customer_id": pl.String(), "customer_pseudonym": pl.String()}

# Per run date: the top-k products of each active customer, with the candidate and a readable reason.
CUSTOMER_RECOMMENDATIONS_SCHEMA: dict[str, pl.DataType] = {
    "run_date": pl.Date(),
    "customer_pseudonym": pl.String(),  # keyed HMAC of the shop's customer id (privacy/pseudonyms.py)
    "rank": pl.Int32(),
    "product_id": pl.String(),
    "score": pl.Float64(),
    "candidate": pl.String(),
    "reason": pl.String(),
}

# Per run date: each customer's chance of a purchase in the next 7 days and the features behind it.
PURCHASE_PROPENSITY_SCHEMA: dict[str, pl.DataType] = {
    "run_date": pl.Date(),
    "customer_pseudonym": pl.String(),
    "purchase_probability": pl.Float64(),  # null while the history is too short to learn from
    "churn_risk": pl.Boolean(),
    "recency_days": pl.Float64(),
    "tenure_days": pl.Float64(),
    "orders_30d": pl.Float64(),
    "orders_90d": pl.Float64(),
    "value_90d": pl.Float64(),
    "mean_gap_days": pl.Float64(),  # -1: a single purchase day
    "overdue_ratio": pl.Float64(),  # recency / mean gap; -1 without a gap
    "returns_90d": pl.Float64(),
    "reviews_90d": pl.Float64(),
    "mean_review_weight": pl.Float64(),
}


def keyed_by_customer_id(schema: dict[str, pl.DataType]) -> dict[str, pl.DataType]:
    """A gold customer table's layout as the pure code computes it: the shop's customer_id where the
    table stores the pseudonym (the asset replaces it before writing: privacy/pseudonyms.py)."""
    return {("customer_id" if name == "customer_pseudonym" else name): dtype for name, dtype in schema.items()}


# Token ids of one review per row (no padding); the tokenizer's name and hash ride in the file's metadata.
SHARD_SCHEMA = pa.schema(
    [
        ("review_id", pa.string()),
        ("product_id", pa.string()),
        ("text_key", pa.string()),
        ("rating", pa.int8()),
        ("label", pa.int8()),
        ("input_ids", pa.list_(pa.int32())),
        ("length", pa.int32()),
        ("truncated", pa.bool_()),
    ]
)


def probability_column(label: str) -> str:
    return f"prob_{label}"


def review_scores_schema(labels: Sequence[str]) -> dict[str, pl.DataType]:
    """review_scores: one probability column per class of the label scheme."""
    return {
        "review_id": pl.String(),
        "product_id": pl.String(),
        "review_date": pl.Date(),
        "rating": pl.Int8(),
        "rating_label": pl.String(),  # null where the scheme names no class for the rating
        "predicted_label": pl.String(),
        **{probability_column(label): pl.Float32() for label in labels},
        "confidence": pl.Float32(),
        "scorer_kind": pl.String(),
        "model_version": pl.String(),
    }


# review_aspects: one row per review and aspect it mentions (aspects/tagging.py).
REVIEW_ASPECTS_SCHEMA: dict[str, pl.DataType] = {
    "review_id": pl.String(),
    "product_id": pl.String(),
    "review_date": pl.Date(),
    "aspect": pl.String(),  # a key of the taxonomy
    "span": pl.String(),  # the clause that mentions it (the most opinionated one, when several do)
    "polarity": pl.String(),  # negative / positive / neutral, of that clause
    "probability": pl.Float32(),  # the polarity scorer's probability of its most likely class for the clause
    "prob_negative": pl.Float32(),
    "method": pl.String(),  # the tagger that found the aspect (lexicon, ...)
    "tagger_version": pl.String(),  # e.g. taxonomy-v1 for the lexicon
    "model_version": pl.String(),  # the sentiment scorer that judged the clause
}


# aspect_sentiment: per date, product and aspect mentioned in the 28 days up to it (aspects/summary.py).
ASPECT_SENTIMENT_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "category": pl.String(),
    "product_id": pl.String(),
    "aspect": pl.String(),
    **{
        f"{measure}{window}": dtype
        for window in ("", "_7d", "_28d")
        for measure, dtype in (
            ("mentions", pl.UInt32()),
            ("negative_mentions", pl.UInt32()),
            ("negative_share", pl.Float64()),  # null without mentions
        )
    },
}


def product_sentiment_schema(labels: Sequence[str]) -> dict[str, pl.DataType]:
    """product_sentiment: a share and a mean probability per class of the label scheme."""
    return {
        "date": pl.Date(),
        "product_id": pl.String(),
        "reviews": pl.UInt32(),
        "avg_rating": pl.Float64(),
        **{f"share_{label}": pl.Float64() for label in labels},
        **{f"mean_{probability_column(label)}": pl.Float64() for label in labels},
        "model_rating_agreement": pl.Float64(),
        "model_version": pl.String(),
    }


def file_schema(table: str, labels: Sequence[str]) -> dict[str, pl.DataType]:
    """The columns a lake table's Parquet files hold, in order (labels: the sentiment classes)."""
    fixed = {
        "raw_orders": RAW_ORDERS_SCHEMA,
        "raw_reviews": RAW_REVIEWS_SCHEMA,
        "validated_orders": VALIDATED_ORDERS_SCHEMA,
        "validated_reviews": VALIDATED_REVIEWS_SCHEMA,
        "quarantined_orders": QUARANTINED_ORDERS_SCHEMA,
        "quarantined_reviews": QUARANTINED_REVIEWS_SCHEMA,
        "raw_inventory": RAW_INVENTORY_SCHEMA,
        "validated_inventory": VALIDATED_INVENTORY_SCHEMA,
        "quarantined_inventory": QUARANTINED_INVENTORY_SCHEMA,
        "products": PRODUCTS_SCHEMA,
        "quarantined_products": QUARANTINED_PRODUCTS_SCHEMA,
        "daily_sales": DAILY_SALES_SCHEMA,
        "category_trends": TRENDS_SCHEMA,
        "sales_forecast": FORECAST_SCHEMA,
        "insights": INSIGHTS_SCHEMA,
        "product_demand_forecast": PRODUCT_DEMAND_FORECAST_SCHEMA,
        "inventory_plan": INVENTORY_PLAN_SCHEMA,
        "customer_events": CUSTOMER_EVENTS_SCHEMA,
        "customer_recommendations": CUSTOMER_RECOMMENDATIONS_SCHEMA,
        "purchase_propensity": PURCHASE_PROPENSITY_SCHEMA,
        "customer_pseudonyms": CUSTOMER_PSEUDONYMS_SCHEMA,
        "review_token_shards": dict(pl.DataFrame(SHARD_SCHEMA.empty_table()).schema),
        "review_aspects": REVIEW_ASPECTS_SCHEMA,
        "aspect_sentiment": ASPECT_SENTIMENT_SCHEMA,
    }
    if table in fixed:
        return dict(fixed[table])
    if table == "review_scores":
        return review_scores_schema(labels)
    if table == "product_sentiment":
        return product_sentiment_schema(labels)
    raise KeyError(f"no documented schema for table {table!r}")


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select and cast to `schema`'s columns in its order, so every partition has one layout."""
    missing = [name for name in schema if name not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}; has {frame.columns}")
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


@dataclass(frozen=True)
class TableRules:
    """What a gold partition must satisfy before readers see it (gold_checks.py checks it on the
    staged file): its key columns unique, its required columns non-null, values within ranges, and
    at least `min_rows` rows (an empty day of a table that always has rows is a broken upstream)."""

    keys: tuple[str, ...]
    required: tuple[str, ...]
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  # column -> (low, high)
    prefixed_ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  # per class column
    min_rows: int = 0


SHARE = (0.0, 1.0)
NOT_NEGATIVE = (0.0, None)
GOLD_RULES: dict[str, TableRules] = {
    "daily_sales": TableRules(
        keys=("date", "category"),
        required=("date", "category", "orders", "units", "revenue", "return_rate"),
        ranges={"orders": NOT_NEGATIVE, "units": NOT_NEGATIVE, "revenue": NOT_NEGATIVE, "return_rate": SHARE},
        # no rows on a day without orders (a closed shop): the trends show the zeros, and must have rows
    ),
    "product_sentiment": TableRules(
        keys=("date", "product_id"),
        required=("date", "product_id", "reviews", "model_version"),
        ranges={"reviews": NOT_NEGATIVE, "avg_rating": (1.0, 5.0), "model_rating_agreement": SHARE},
        prefixed_ranges={"share_": SHARE, "mean_prob_": SHARE},
    ),
    "aspect_sentiment": TableRules(
        keys=("date", "product_id", "aspect"),
        required=("date", "product_id", "aspect", "mentions", "mentions_7d", "mentions_28d"),
        prefixed_ranges={"negative_share": SHARE, "mentions": NOT_NEGATIVE, "negative_mentions": NOT_NEGATIVE},
    ),
    "category_trends": TableRules(
        keys=("date", "category"),
        required=("date", "category", "revenue", "units", "history_days"),
        ranges={"revenue": NOT_NEGATIVE, "units": NOT_NEGATIVE},
        min_rows=1,
    ),
    "sales_forecast": TableRules(
        keys=("run_date", "category", "horizon_day"),
        required=("run_date", "category", "target_date", "horizon_day"),
        ranges={"horizon_day": (1.0, None)},
    ),
    "product_demand_forecast": TableRules(
        keys=("run_date", "product_id", "horizon_day"),
        required=("run_date", "product_id", "target_date", "horizon_day", "method", "mean", "p10", "p50", "p90"),
        ranges={
            "horizon_day": (1.0, None),
            "mean": NOT_NEGATIVE,
            "p10": NOT_NEGATIVE,
            "p50": NOT_NEGATIVE,
            "sd": NOT_NEGATIVE,
            "day_correlation": SHARE,
            "backtest_mase": NOT_NEGATIVE,
            "backtest_coverage80": SHARE,
        },
    ),
    "inventory_plan": TableRules(
        keys=("run_date", "product_id"),
        required=("run_date", "product_id", "stock_date", "on_hand", "on_order", "lead_time_days", "service_level"),
        ranges={
            "on_hand": NOT_NEGATIVE,
            "stockout_probability": SHARE,
            "suggested_order": NOT_NEGATIVE,
            "overstock_value": NOT_NEGATIVE,
        },
        min_rows=1,  # a day with a stock count has products to plan
    ),
    "insights": TableRules(
        keys=("run_date", "rank"),
        required=("run_date", "rank", "type", "entity_type", "entity", "severity", "sentence"),
        ranges={"rank": (1.0, None)},
    ),
    "customer_recommendations": TableRules(
        keys=("run_date", "customer_pseudonym", "product_id"),
        required=("run_date", "customer_pseudonym", "rank", "product_id", "score", "candidate", "reason"),
        ranges={"rank": (1.0, None)},
    ),
    "purchase_propensity": TableRules(
        keys=("run_date", "customer_pseudonym"),
        required=("run_date", "customer_pseudonym", "recency_days", "tenure_days"),
        ranges={"purchase_probability": SHARE, "recency_days": NOT_NEGATIVE, "orders_30d": NOT_NEGATIVE},
    ),
}


def column_descriptions(table: str, labels: Sequence[str]) -> dict[str, str]:
    """Each column of `table`'s files (file_schema order) with its description from column_docs.py,
    the one source of what a column means (the catalog and the README's column reference)."""
    from shopinsight_pipeline.column_docs import COLUMN_DESCRIPTIONS, PATTERN_DESCRIPTIONS

    described = dict(COLUMN_DESCRIPTIONS[table])
    for pattern, text in PATTERN_DESCRIPTIONS.get(table, {}).items():
        described |= {pattern.format(label=label): text.replace("{label}", label) for label in labels}
    return {column: described[column] for column in file_schema(table, labels)}
