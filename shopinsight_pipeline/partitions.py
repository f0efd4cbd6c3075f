"""The daily partitioning every dated asset shares."""

import os
from datetime import date

from dagster import DailyPartitionsDefinition

# First day of the embedded sample; a deployment sets its own history start.
SAMPLE_START = date(2026, 8, 1)
SAMPLE_DAYS = 61
BUSINESS_TIMEZONE = os.environ.get("SHOPINSIGHT_TIMEZONE", "Asia/Shanghai")

daily_partitions = DailyPartitionsDefinition(
    start_date=os.environ.get("SHOPINSIGHT_START_DATE", SAMPLE_START.isoformat()),
    timezone=BUSINESS_TIMEZONE,
)


def partition_day(partition_key: str) -> date:
    return date.fromisoformat(partition_key)
