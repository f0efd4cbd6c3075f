"""The shop's business calendar: where the sample starts and which timezone days are cut in.

No Dagster here: the sample generator and the pure core use it; partitions.py builds the
partitions definition from it.
"""

import os
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

# First day of the embedded sample; a deployment sets its own history start.
SAMPLE_START = date(2026, 8, 1)
SAMPLE_DAYS = 61
SAMPLE_LAST_DAY = SAMPLE_START + timedelta(days=SAMPLE_DAYS - 1)
BUSINESS_TIMEZONE = os.environ.get("SHOPINSIGHT_TIMEZONE", "Asia/Shanghai")


def day_before(moment: datetime, timezone: str = BUSINESS_TIMEZONE) -> date:
    """The business day that ended before `moment`: what a nightly run at `moment` materializes."""
    return moment.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)
