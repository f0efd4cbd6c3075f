"""landing_sensor: start the nightly job for a day as soon as all its landing files are there
(orders, reviews, the product catalogue and the stock count). retrain_after_the_night: start retrain_job once the
night's partitions the models learn from are written (below).

Off by default (the nightly schedule covers the usual case); turn it on under Automation when
exports arrive at irregular hours. A day is requested once per set of files: the run key holds
their modification times, so a re-delivered file triggers a re-run of that day only.
"""

import os
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from shopinsight_pipeline.calendar import day_before
from shopinsight_pipeline.jobs import nightly_partition_job, retrain_job
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
    description="Runs nightly_partition_job for a day when its orders, reviews, products and inventory files have "
    "all landed.",
)
def landing_sensor(context: SensorEvaluationContext, storage: LakeStorage):
    first = date.fromisoformat(daily_partitions.start.strftime("%Y-%m-%d"))
    today = datetime.now(ZoneInfo(BUSINESS_TIMEZONE)).date()
    days = [(day, key) for day, key in complete_days(storage, today) if day >= first]
    if not days:
        return SkipReason(f"no complete set of landing files in the last {LOOKBACK_DAYS} days under {storage.root}")
    return [RunRequest(run_key=key, partition_key=day.isoformat()) for day, key in days]


# What the models learn from: sentiment_model (shards and reviews), aspect_tagger (reviews),
# recommender_model (customer events). Retraining before the night wrote them trains on yesterday.
RETRAIN_INPUTS = ("validated_reviews", "review_token_shards", "customer_events")


def retrain_after() -> time:
    """The earliest time of day (business timezone) to retrain: SHOPINSIGHT_RETRAIN_AFTER, HH:MM."""
    value = os.environ.get("SHOPINSIGHT_RETRAIN_AFTER", "04:30")
    try:
        return time.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"SHOPINSIGHT_RETRAIN_AFTER={value!r}: expected HH:MM") from error


def night_written(storage: LakeStorage, day: date) -> list[str]:
    """The retrain inputs that have no partition for `day` yet (empty: the night is written)."""
    return [table for table in RETRAIN_INPUTS if day not in storage.written_partitions(table)]


@sensor(
    job=retrain_job,
    minimum_interval_seconds=600,
    default_status=DefaultSensorStatus.STOPPED,
    description="Runs retrain_job once a day, after SHOPINSIGHT_RETRAIN_AFTER (04:30 in the business timezone) "
    "and only once the night's validated_reviews, review_token_shards and customer_events partitions are "
    "written: a late or failed night delays retraining instead of training on yesterday's data.",
)
def retrain_after_the_night(context: SensorEvaluationContext, storage: LakeStorage):
    now = datetime.now(ZoneInfo(BUSINESS_TIMEZONE))
    if now.time() < retrain_after():
        return SkipReason(f"retraining waits until {retrain_after().isoformat('minutes')} ({BUSINESS_TIMEZONE})")
    night = day_before(now)
    missing = night_written(storage, night)
    if missing:
        return SkipReason(f"waiting for the night of {night.isoformat()}: {', '.join(missing)} not written yet")
    return RunRequest(run_key=f"retrain-after-{night.isoformat()}")  # once per night, however often it ticks
