"""The retention job: deletes the landing files and bronze partitions older than the retention
period (SHOPINSIGHT_RETENTION_DAYS, 90 by default), every night once its schedule is turned on, and
the landing originals an erasure held (lake/restricted/erasure_hold/until-<day>) once that day passed.

Off by default: the embedded sample's days are months old, and a first run on a real shop deletes
what is older than the period, which the operator should choose on purpose. Each run records what
it deleted (days per table, files) in its metadata and as an observation on the bronze tables; a
deleted day can no longer be re-validated from its original.
"""

import os
from datetime import date, datetime

from dagster import (
    AssetKey,
    AssetObservation,
    Config,
    DefaultScheduleStatus,
    MetadataValue,
    OpExecutionContext,
    Out,
    Output,
    ScheduleEvaluationContext,
    job,
    op,
    schedule,
)
from pydantic import Field

from shopinsight_pipeline.files import remove_folder
from shopinsight_pipeline.partitions import BUSINESS_TIMEZONE
from shopinsight_pipeline.privacy.retention import expired
from shopinsight_pipeline.storage import DAY_UNITS, LANDING_SOURCES, LakeStorage

RETENTION_DAYS = int(os.environ.get("SHOPINSIGHT_RETENTION_DAYS", "90"))  # a deployment setting
BRONZE = tuple(tables[0] for tables in DAY_UNITS.values())  # raw_orders, raw_reviews


class RetentionConfig(Config):
    keep_days: int = Field(default=RETENTION_DAYS, ge=1, description="Days of originals kept, counted back from today.")
    today: str = Field(
        default="", description="The day to count back from (ISO); empty: today in the business timezone."
    )
    dry_run: bool = Field(default=False, description="List what would be deleted, delete nothing.")


# What was deleted is the op's output, kept in memory: it is a report, not a lake table.
@op(
    description="Delete landing files and bronze partitions older than the retention period.",
    out=Out(io_manager_key="report_io_manager"),
)
def purge_expired_originals(context: OpExecutionContext, config: RetentionConfig, storage: LakeStorage) -> Output:
    from zoneinfo import ZoneInfo

    today = date.fromisoformat(config.today) if config.today else datetime.now(ZoneInfo(BUSINESS_TIMEZONE)).date()
    deleted: dict[str, list[str]] = {}
    for source in LANDING_SOURCES:
        landed = (storage.root_path / "landing" / source).glob(f"{source}_*")
        files = {day: path for path in landed if (day := _day_of(path.name)) is not None}
        for day in expired(list(files), today, config.keep_days):
            if not config.dry_run:
                files[day].unlink()
            deleted.setdefault(f"landing/{source}", []).append(day.isoformat())
    for table in BRONZE:
        days = set(storage.partition_days(table)) | set(storage.staged_days(table))
        for day in expired(sorted(days), today, config.keep_days):
            if not config.dry_run:
                storage.delete_partition(table, day)
            deleted.setdefault(table, []).append(day.isoformat())
        if deleted.get(table) and not config.dry_run:
            context.log_event(
                AssetObservation(
                    asset_key=AssetKey(table),
                    metadata={"purged_days": MetadataValue.json(deleted[table]), "retention_days": config.keep_days},
                )
            )
    hold = storage.root_path / "lake" / "restricted" / "erasure_hold"  # erasure.py's legal hold of originals
    for folder in sorted(hold.glob("until-*")) if hold.exists() else []:
        held_until = _held_until(folder.name)
        if held_until is not None and held_until < today:
            if not config.dry_run:
                remove_folder(folder)
            deleted.setdefault("erasure_hold", []).append(held_until.isoformat())
    counts = {place: len(days) for place, days in deleted.items()}
    context.log.info(f"{'would delete' if config.dry_run else 'deleted'} (days before {today}): {counts or 'nothing'}")
    return Output(
        counts,
        metadata={
            "today": today.isoformat(),
            "keep_days": config.keep_days,
            "dry_run": config.dry_run,
            "deleted_days": MetadataValue.json(deleted),
        },
    )


def _day_of(name: str) -> date | None:
    """The day in a landing file's name (orders_2026-08-01.csv), None for a name without one."""
    try:
        return date.fromisoformat(name.split("_", 1)[1].split(".", 1)[0])
    except (IndexError, ValueError):
        return None


def _held_until(name: str) -> date | None:
    """The last day of an erasure hold folder's name (until-2027-03-01), None for another name."""
    try:
        return date.fromisoformat(name.removeprefix("until-"))
    except ValueError:
        return None


@job(
    description="Delete the originals (landing files, bronze partitions) older than the retention period.",
)
def retention_job() -> None:
    purge_expired_originals()


@schedule(
    job=retention_job,
    cron_schedule=os.environ.get("SHOPINSIGHT_RETENTION_CRON", "0 5 * * *"),
    execution_timezone=BUSINESS_TIMEZONE,
    default_status=DefaultScheduleStatus.STOPPED,
    description="Nightly: delete originals older than SHOPINSIGHT_RETENTION_DAYS (off until an operator turns it on).",
)
def retention_schedule(context: ScheduleEvaluationContext) -> dict:
    return {}
