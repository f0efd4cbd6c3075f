"""aspect_sentiment of a day: how often each product's aspects are mentioned and how often
negatively, on the day and over the 7 and 28 days ending on it.

A row per (product, aspect) mentioned in the 28 days, so a day without mentions still carries the
week's and the month's numbers (an analyst filtering on the run date sees every live complaint).
The category is the product's in the validated orders (the latest seen); a product no order names
in the orders window gets "unknown" rather than disappearing.
"""

from collections.abc import Mapping
from datetime import date, timedelta

import polars as pl

from shopinsight_pipeline.schemas import ASPECT_SENTIMENT_SCHEMA, REVIEW_ASPECTS_SCHEMA, conform

HISTORY_DAYS = 28  # the longest window the table reports
UNKNOWN_CATEGORY = "unknown"


def product_categories(order_days: Mapping[str, pl.LazyFrame | pl.DataFrame]) -> pl.DataFrame:
    """product_id -> category, the latest an order of these days gave it (validated_orders partitions)."""
    frames = [frame.lazy().select("product_id", "category", "order_ts") for frame in order_days.values()]
    if not frames:
        return pl.DataFrame(schema={"product_id": pl.String(), "category": pl.String()})
    latest = pl.concat(frames).sort("order_ts").group_by("product_id").agg(pl.col("category").last())
    return latest.select("product_id", "category").collect()


def summarize_aspect_sentiment(
    aspect_days: Mapping[str, pl.DataFrame], categories: pl.DataFrame, day: date
) -> pl.DataFrame:
    """The day's rows from review_aspects partitions (date -> rows) of up to HISTORY_DAYS days ending on `day`."""
    frames = [aspect_days[key] for key in sorted(aspect_days)]
    mentions = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame(schema=REVIEW_ASPECTS_SCHEMA)
    start = day - timedelta(days=HISTORY_DAYS - 1)
    mentions = mentions.filter(pl.col("review_date").is_between(start, day))
    negative = pl.col("polarity") == "negative"

    def counted(since: date, suffix: str) -> list[pl.Expr]:
        inside = pl.col("review_date") >= since
        return [
            inside.sum().cast(pl.UInt32).alias(f"mentions{suffix}"),
            (inside & negative).sum().cast(pl.UInt32).alias(f"negative_mentions{suffix}"),
        ]

    table = mentions.group_by("product_id", "aspect").agg(
        *counted(day, ""), *counted(day - timedelta(days=6), "_7d"), *counted(start, "_28d")
    )
    for suffix in ("", "_7d", "_28d"):
        table = table.with_columns(
            pl.when(pl.col(f"mentions{suffix}") > 0)
            .then(pl.col(f"negative_mentions{suffix}") / pl.col(f"mentions{suffix}"))
            .alias(f"negative_share{suffix}")
        )
    table = table.join(categories, on="product_id", how="left").with_columns(
        date=pl.lit(day), category=pl.col("category").fill_null(UNKNOWN_CATEGORY)
    )
    return conform(table, ASPECT_SENTIMENT_SCHEMA).sort("category", "product_id", "aspect")
