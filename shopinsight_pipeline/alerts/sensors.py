"""alert_on_run_failure: mail and a chat message to the people on call when a run of the project's
jobs fails (a failed step, a blocking check, a crash), naming the job, the partition, each failed
step with its message, and a link to the run in the UI. On by default; it sends nothing until the
deployment configures a channel (alerts/delivery.py's settings)."""

import os

from dagster import DefaultSensorStatus, RunFailureSensorContext, SkipReason, run_failure_sensor

from shopinsight_pipeline.alerts.delivery import AlertSettings, deliver, run_failure_alert
from shopinsight_pipeline.jobs import nightly_partition_job, prepare_partition_job, retrain_job, score_partition_job

PARTITION_TAG, RANGE_START, RANGE_END = (
    "dagster/partition",
    "dagster/asset_partition_range_start",
    ("dagster/asset_partition_range_end"),
)


def partition_of(tags: dict[str, str]) -> str | None:
    """The run's partition, or its range ("2026-08-01 to 2026-08-31"), or None for an unpartitioned run."""
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG]
    if RANGE_START in tags:
        return f"{tags[RANGE_START]} to {tags.get(RANGE_END, tags[RANGE_START])}"
    return None


def failure_message(event) -> str:
    """What a failed step says: a raised Failure's description, else the error without its class path."""
    data = event.step_failure_data
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description
    if data.error is None:
        return ""
    message = data.error.message
    prefix = f"{data.error.cls_name}: "
    return message.split(prefix, 1)[1] if prefix in message else message


@run_failure_sensor(
    name="alert_on_run_failure",
    monitored_jobs=[nightly_partition_job, prepare_partition_job, score_partition_job, retrain_job],
    default_status=DefaultSensorStatus.RUNNING,
    description="Mails (SHOPINSIGHT_SMTP_*) and posts to a chat webhook (SHOPINSIGHT_ALERT_WEBHOOK_URL) when a run "
    "of the project's jobs fails: job, partition, failed steps with their messages, a link to the run.",
)
def alert_on_run_failure(context: RunFailureSensorContext):
    settings = AlertSettings.from_env(os.environ)
    if not settings.configured:
        return SkipReason("no alert channel configured (SHOPINSIGHT_SMTP_HOST, SHOPINSIGHT_ALERT_WEBHOOK_URL)")
    run = context.dagster_run
    failures = [(event.step_key or "run", failure_message(event)) for event in context.get_step_failure_events()]
    if not failures and context.failure_event.message:
        failures = [("run", context.failure_event.message)]
    alert = run_failure_alert(run.job_name, run.run_id, partition_of(dict(run.tags)), failures, settings.ui_url)
    outcome = deliver(alert, settings)
    context.log.info(f"alert for run {run.run_id}: {outcome}")
    failed = {channel: why for channel, why in outcome.items() if why != "sent"}
    if failed:
        raise RuntimeError(f"alert for run {run.run_id} not delivered by {failed}")
    return None
