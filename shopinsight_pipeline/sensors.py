"""landing_sensor: start the nightly job for a day as soon as all its landing files are there
(orders, reviews and the product catalogue).

Off by default (the nightly schedule covers the usual case); turn it on under Automation when
exports arrive at irregular hours. A day is requested once per set of files: the run key holds
their modification times, so a re-delivered file triggers a re-run of that day only.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from shopinsight_pipeline.jobs import nightly_partition_job
from shopinsight_pipeline.partitions import BUSINESS_TIMEZONE, daily_partitions
from shopinsight_pipeline.storage import LANDING_SOURCES, LakeStorage

LOOKBACK_DAYS = 7  # only look for files of the last week: older days are backfills, not arrivals


def complete_days(storage: LakeStorage, today: date, lookback: int = LOOKBACK_DAYS) -> list[tuple[date, str]]:
    """Days in the lookback window with every landing file, and a key that changes when any file does."""
    found = []
    for offset in range(lookback, 0, -1):
        day = today - timedelta(days=offset)
        files = [storage.landing_file(source, day) for source in LANDING_SOURCES]
        if all(path.exists() for path in files):
            stamps = "-".join(str(int(path.stat().st_mtime)) for path in files)
            found.append((day, f"{day.isoformat()}:{stamps}"))
    return found


@sensor(
    job=nightly_partition_job,
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.STOPPED,
    description="Runs nightly_partition_job for a day when its orders, reviews and products files have all landed.",
)
def landing_sensor(context: SensorEvaluationContext, storage: LakeStorage):
    first = date.fromisoformat(daily_partitions.start.strftime("%Y-%m-%d"))
    today = datetime.now(ZoneInfo(BUSINESS_TIMEZONE)).date()
    days = [(day, key) for day, key in complete_days(storage, today) if day >= first]
    if not days:
        return SkipReason(f"no complete set of landing files in the last {LOOKBACK_DAYS} days under {storage.root}")
    return [RunRequest(run_key=key, partition_key=day.isoformat()) for day, key in days]
