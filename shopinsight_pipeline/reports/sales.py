"""daily_sales: gold sales aggregates per day and category, as a pure polars transform (tested
and benchmarked without the orchestrator)."""

import polars as pl

from shopinsight_pipeline.schemas import DAILY_SALES_SCHEMA, conform


def summarize_daily_sales(validated_orders: pl.DataFrame) -> pl.DataFrame:
    """Per day and category: orders, units, gross revenue, average order value, return rate.

    Cancelled orders never count; returned orders count as sold (gross) and drive return_rate.
    """
    kept = validated_orders.filter(pl.col("status") != "cancelled")
    summary = (
        kept.group_by(pl.col("order_date").alias("date"), "category")
        .agg(
            pl.col("order_id").n_unique().alias("orders"),
            pl.col("quantity").sum().alias("units"),
            pl.col("line_total").sum().round(2).alias("revenue"),
            (pl.col("status") == "returned").sum().alias("returned"),
        )
        .with_columns(
            (pl.col("revenue") / pl.col("orders")).round(2).alias("avg_order_value"),
            (pl.col("returned") / pl.col("orders")).alias("return_rate"),
        )
        .sort("date", "category")
    )
    return conform(summary, DAILY_SALES_SCHEMA)
