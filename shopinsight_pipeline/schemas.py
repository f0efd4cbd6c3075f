"""Every table's columns and types, in one place.

Bronze tables keep the landing values as text so nothing is parsed away before validation;
silver and gold tables are typed. Assets and tests import these instead of repeating names.
"""

import polars as pl

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
    **LINEAGE_SCHEMA,
}

RAW_REVIEWS_SCHEMA: dict[str, pl.DataType] = {
    **{field: pl.String() for field in REVIEW_FIELDS},
    "parse_error": pl.String(),  # why the line is not a JSON object, else null
    "type_errors": pl.String(),  # fields of the wrong JSON type ("review_text is an object, ..."), else null
    "repeated_keys": pl.String(),  # keys given more than once on the line (ambiguous), else null
    "extra_fields": pl.String(),  # unknown keys as a JSON object, else null
    **LINEAGE_SCHEMA,
}

UTC_TIMESTAMP = pl.Datetime("us", "UTC")

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

# Quarantine keeps the bronze row untouched plus why it was rejected.
QUARANTINE_COLUMNS: dict[str, pl.DataType] = {
    "rejected_rules": pl.List(pl.String()),
    "reason": pl.String(),
}
QUARANTINED_ORDERS_SCHEMA = {**RAW_ORDERS_SCHEMA, **QUARANTINE_COLUMNS}
QUARANTINED_REVIEWS_SCHEMA = {**RAW_REVIEWS_SCHEMA, **QUARANTINE_COLUMNS}

DAILY_SALES_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "category": pl.String(),
    "orders": pl.UInt32(),  # orders not cancelled
    "units": pl.Int64(),
    "revenue": pl.Float64(),  # gross: quantity * unit_price of orders not cancelled
    "avg_order_value": pl.Float64(),
    "return_rate": pl.Float64(),  # returned / orders
}


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select and cast to `schema`'s columns in its order, so every partition has one layout."""
    missing = [name for name in schema if name not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}; has {frame.columns}")
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])
