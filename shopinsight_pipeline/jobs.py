"""Jobs and schedules operators run: the nightly partition job and its schedule."""

import os

from dagster import AssetSelection, build_schedule_from_partitioned_job, define_asset_job

from shopinsight_pipeline.partitions import daily_partitions

nightly_partition_job = define_asset_job(
    name="nightly_partition_job",
    selection=AssetSelection.groups("ingest", "validate", "reports"),
    partitions_def=daily_partitions,
    description="Ingest, validate and report one day. Launch a range from the UI to backfill.",
)

# Deployment setting: when the nightly run starts (HH:MM in the partitions' timezone). It
# materializes the day that just ended.
NIGHTLY_AT = os.environ.get("SHOPINSIGHT_NIGHTLY_AT", "02:30")
_hour, _minute = (int(part) for part in NIGHTLY_AT.split(":"))

nightly_schedule = build_schedule_from_partitioned_job(
    nightly_partition_job,
    hour_of_day=_hour,
    minute_of_hour=_minute,
    name="nightly_partition_schedule",
    description=f"Every day at {NIGHTLY_AT}: ingest, validate and report the previous day.",
)
