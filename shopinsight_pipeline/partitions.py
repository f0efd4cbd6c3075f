"""The daily partitioning every dated asset shares."""

import os
from datetime import date

from dagster import AssetIn, BackfillPolicy, DailyPartitionsDefinition, TimeWindowPartitionMapping

from shopinsight_pipeline.calendar import BUSINESS_TIMEZONE, SAMPLE_DAYS, SAMPLE_START, day_before

__all__ = ["BUSINESS_TIMEZONE", "SAMPLE_DAYS", "SAMPLE_START", "day_before"]

daily_partitions = DailyPartitionsDefinition(
    start_date=os.environ.get("SHOPINSIGHT_START_DATE", SAMPLE_START.isoformat()),
    timezone=BUSINESS_TIMEZONE,
)


# Every daily asset: one partition per run, so a range backfill from the UI is a run per day and
# each asset writes exactly the partition it is given.
DAILY_ASSET = {
    "partitions_def": daily_partitions,
    "backfill_policy": BackfillPolicy.multi_run(max_partitions_per_run=1),
}


def partition_day(partition_key: str) -> date:
    return date.fromisoformat(partition_key)


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
