"""The daily partitioning every dated asset shares."""

import os
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import BackfillPolicy, DailyPartitionsDefinition

# First day of the embedded sample; a deployment sets its own history start.
SAMPLE_START = date(2026, 8, 1)
SAMPLE_DAYS = 61
BUSINESS_TIMEZONE = os.environ.get("SHOPINSIGHT_TIMEZONE", "Asia/Shanghai")

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


def day_before(moment: datetime, timezone: str = BUSINESS_TIMEZONE) -> date:
    """The business day that ended before `moment`: what a nightly run at `moment` materializes."""
    return moment.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)
