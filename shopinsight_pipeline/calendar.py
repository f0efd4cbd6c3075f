"""The shop's business calendar: where the sample starts and which timezone days are cut in.

No Dagster here: the sample generator and the pure core use it; partitions.py builds the
partitions definition from it.
"""

import os
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

# First day of the embedded sample; a deployment sets its own history start.
SAMPLE_START = date(2026, 8, 1)
SAMPLE_DAYS = 61
SAMPLE_LAST_DAY = SAMPLE_START + timedelta(days=SAMPLE_DAYS - 1)
BUSINESS_TIMEZONE = os.environ.get("SHOPINSIGHT_TIMEZONE", "Asia/Shanghai")


def day_before(moment: datetime, timezone: str = BUSINESS_TIMEZONE) -> date:
    """The business day that ended before `moment`: what a nightly run at `moment` materializes."""
    return moment.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)


T = TypeVar("T")


def partition_day(partition_key: str) -> date:
    """The day of a daily partition key (YYYY-MM-DD)."""
    return date.fromisoformat(partition_key)


def window_of(days: Mapping[str, T], day: date, count: int) -> dict[str, T]:
    """The entries of a loaded window that belong to `day`'s own window: the `count` days ending on
    it (a range run loads the union of its days' windows)."""
    first, last = (day - timedelta(days=count - 1)).isoformat(), day.isoformat()
    return {key: days[key] for key in sorted(days) if first <= key <= last}
