"""Data-quality numbers of the insights and the report: raw and rejected rows per entity and day.

Counted once per run from the Parquet footers of the loaded raw and quarantined partitions; each
run date then takes its own QUALITY_DAYS days of them.
"""

from collections.abc import Mapping
from datetime import date, timedelta

import polars as pl

# The data-quality section counts raw and rejected rows of the run date and the 7 days before.
QUALITY_DAYS = 8
QUALITY_SCHEMA = {"date": pl.Date, "entity": pl.String, "raw_rows": pl.Int64, "rejected_rows": pl.Int64}


def quality_counts(
    raw_orders: Mapping[str, pl.LazyFrame],
    raw_reviews: Mapping[str, pl.LazyFrame],
    quarantined_orders: Mapping[str, pl.LazyFrame],
    quarantined_reviews: Mapping[str, pl.LazyFrame],
) -> pl.DataFrame:
    """Raw and rejected row counts per entity and day (a count of a Parquet scan reads the footers)."""
    rows = []
    for entity, raw, rejected in (
        ("orders", raw_orders, quarantined_orders),
        ("reviews", raw_reviews, quarantined_reviews),
    ):
        for key in sorted(raw.keys() & rejected.keys(), reverse=True):
            counts = [frame.select(pl.len()).collect().item() for frame in (raw[key], rejected[key])]
            rows.append(
                {"date": date.fromisoformat(key), "entity": entity, "raw_rows": counts[0], "rejected_rows": counts[1]}
            )
    return pl.DataFrame(rows, schema=QUALITY_SCHEMA)


def quality_of(counts: pl.DataFrame, day: date) -> pl.DataFrame:
    """The rows of `quality_counts` for `day` and the QUALITY_DAYS - 1 days before it (a range run
    counts every loaded day once and each of its days takes its own window)."""
    return counts.filter(pl.col("date").is_between(day - timedelta(days=QUALITY_DAYS - 1), day))


def reject_rates(rows: pl.DataFrame) -> pl.DataFrame:
    """The report's data-quality table: the rows with their reject rate, per entity, newest first."""
    return rows.with_columns((pl.col("rejected_rows") / pl.col("raw_rows")).round(4).alias("reject_rate")).sort(
        "entity", "date", descending=[False, True]
    )
