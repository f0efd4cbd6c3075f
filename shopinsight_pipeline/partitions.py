"""The daily partitioning every dated asset shares."""

import os
import warnings
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from dagster import AssetIn, BackfillPolicy, BetaWarning, DailyPartitionsDefinition, Output, TimeWindowPartitionMapping

from shopinsight_pipeline.calendar import (
    BUSINESS_TIMEZONE,
    SAMPLE_DAYS,
    SAMPLE_START,
    day_before,
    partition_day,
    window_of,
)

__all__ = ["BUSINESS_TIMEZONE", "SAMPLE_DAYS", "SAMPLE_START", "day_before", "partition_day", "window_of"]


def _partition_end(last_day: str | None) -> str | None:
    """Dagster's end date excludes its day; SHOPINSIGHT_END_DATE names the last day a lake holds."""
    return (date.fromisoformat(last_day) + timedelta(days=1)).isoformat() if last_day else None


# Deployment settings: the first day, and for a lake with a closed history (an archive, a demo on the
# sample) the last; without it a new day's partition opens every day.
daily_partitions = DailyPartitionsDefinition(
    start_date=os.environ.get("SHOPINSIGHT_START_DATE", SAMPLE_START.isoformat()),
    end_date=_partition_end(os.environ.get("SHOPINSIGHT_END_DATE")),
    timezone=BUSINESS_TIMEZONE,
)


# A range backfill runs each daily asset for up to a month of days in one run (a run's start costs
# tens of seconds; a day's work on the sample a fraction of one), still writing one Parquet file per
# day. Assets loop over the run's days oldest first, so a self-dependent asset sees the days before.
MAX_DAYS_PER_RUN = int(os.environ.get("SHOPINSIGHT_BACKFILL_DAYS_PER_RUN", "31"))  # a deployment bounds memory
# backfill_policy and Output's data_version (the tokenizer hash) are beta in Dagster: chosen knowingly
# (README), so the warnings are not repeated on every code load and run (hundreds of lines in
# `make ui` during a backfill).
warnings.filterwarnings("ignore", message=".*(backfill_policy|data_version).*", category=BetaWarning)
DAILY_ASSET: dict[str, Any] = {
    "partitions_def": daily_partitions,
    "backfill_policy": BackfillPolicy.multi_run(max_partitions_per_run=MAX_DAYS_PER_RUN),
}


def run_days(context) -> list[date]:
    """The days a run materializes, oldest first: one for a nightly run, a range for a backfill."""
    return sorted(partition_day(key) for key in context.partition_keys)


def rows_by_day(frames: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata of a run's tables: total rows, and the rows of each day when the run wrote several."""
    heights = {
        key: sum(shard.num_rows for shard in frame) if isinstance(frame, list) else frame.height
        for key, frame in sorted(frames.items())
    }
    metadata: dict = {"dagster/row_count": sum(heights.values()), "days": len(heights)}
    if len(heights) > 1:
        metadata["rows_by_day"] = heights
    return metadata


# Days an input window may lack (the start of the lake, a gap): the IO manager skips them and the
# asset says so in its metadata. The key is UPathIOManager's own.
ALLOW_MISSING = {"allow_missing_partitions": True}


def window(asset: str, days: int) -> AssetIn:
    """The `days` days of `asset` ending on the partition's day: lineage, backfill order and staleness
    follow from this one declaration."""
    mapping = TimeWindowPartitionMapping(start_offset=-(days - 1), end_offset=0)
    return AssetIn(asset, partition_mapping=mapping, metadata=ALLOW_MISSING)


def earlier_days(asset: str, days: int) -> AssetIn:
    """The `days` days before the partition's day (not the day itself): an asset's look-back at its
    own earlier partitions is a self-dependency, so Dagster runs a range oldest first."""
    mapping = TimeWindowPartitionMapping(start_offset=-days, end_offset=-1)
    return AssetIn(asset, partition_mapping=mapping, metadata=ALLOW_MISSING)


def same_day_if_written(asset: str) -> AssetIn:
    """The partition's day of `asset`, which the asset can do without (it notes the gap)."""
    return AssetIn(asset, metadata=ALLOW_MISSING)


def each_day(context, compute) -> Output:
    """Run `compute(day) -> (table, metadata)` for every day of the run, oldest first: one table per
    day. The metadata is the last day's, with the rows of each day when the run covered several."""
    tables, metadata = {}, {}
    for day in run_days(context):
        tables[day.isoformat()], metadata = compute(day)
    return Output(tables, metadata={**metadata, **rows_by_day(tables)})
