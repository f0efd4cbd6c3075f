"""Alerts to the people on call (alerts/delivery.py says what and how; on by default, they send
nothing until the deployment configures a channel):

- alert_on_run_failure: a run of the project's jobs failed (a failed step, a blocking check, a
  crash): the job, the partition, each failed step with its message, a link to the run;
- alert_on_refused_challenger: sentiment_model's gate refused its challenger as significantly worse
  than the champion (which keeps serving);
- alert_on_high_findings: a digest of the night's high-severity insights, as soon as they are
  written (a surge should be heard of before the report is opened);
- alert_on_stale_assets: a freshness check (freshness.py) failed: a night that did not run, a
  model not retrained.
"""

import json
import os
from datetime import date

import polars as pl
from dagster import (
    AssetCheckKey,
    AssetKey,
    DefaultSensorStatus,
    EventLogEntry,
    RunFailureSensorContext,
    SensorEvaluationContext,
    SkipReason,
    asset_sensor,
    run_failure_sensor,
    sensor,
)

from shopinsight_pipeline.alerts.delivery import (
    Alert,
    AlertSettings,
    deliver,
    findings_digest,
    gate_refused_alert,
    run_failure_alert,
    stale_alert,
)
from shopinsight_pipeline.erasure_job import erase_customers_job, rematerialize_after_erasure_job
from shopinsight_pipeline.freshness import freshness_checks
from shopinsight_pipeline.jobs import nightly_partition_job, prepare_partition_job, retrain_job, score_partition_job
from shopinsight_pipeline.retention_job import retention_job
from shopinsight_pipeline.storage import LakeStorage, MissingPartitionError

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


# Every job of the project (definitions.py defines these): a failure of any of them is alerted.
PROJECT_JOBS = (
    nightly_partition_job,
    prepare_partition_job,
    score_partition_job,
    retrain_job,
    retention_job,
    erase_customers_job,
    rematerialize_after_erasure_job,
)


@run_failure_sensor(
    name="alert_on_run_failure",
    monitored_jobs=list(PROJECT_JOBS),
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
    send(alert, settings, context.log)
    return None


def send(alert: Alert, settings: AlertSettings, log) -> None:
    """Deliver by every configured channel; the tick fails naming a channel that did not deliver."""
    outcome = deliver(alert, settings)
    log.info(f"{alert.subject}: {outcome}")
    failed = {channel: why for channel, why in outcome.items() if why != "sent"}
    if failed:
        raise RuntimeError(f"alert {alert.subject!r} not delivered by {failed}")


def materialization_metadata(event: EventLogEntry) -> dict:
    materialization = event.asset_materialization
    if materialization is None:
        return {}
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}


@asset_sensor(
    asset_key=AssetKey("sentiment_model"),
    name="alert_on_refused_challenger",
    default_status=DefaultSensorStatus.RUNNING,
    description="Alerts when sentiment_model's gate refuses its challenger as significantly worse than the champion.",
)
def alert_on_refused_challenger(context: SensorEvaluationContext, asset_event: EventLogEntry):
    settings = AlertSettings.from_env(os.environ)
    metadata = materialization_metadata(asset_event)
    if not metadata.get("challenger_refused_as_worse"):
        return SkipReason("the gate did not refuse a challenger as worse")
    if not settings.configured:
        return SkipReason("no alert channel configured (SHOPINSIGHT_SMTP_HOST, SHOPINSIGHT_ALERT_WEBHOOK_URL)")
    alert = gate_refused_alert(
        "sentiment_model", str(metadata.get("decision", "")), asset_event.run_id, settings.ui_url
    )
    send(alert, settings, context.log)
    return None


DIGEST_FINDINGS = 5  # sentences in the digest; the rest are counted


@asset_sensor(
    asset_key=AssetKey("insights"),
    name="alert_on_high_findings",
    default_status=DefaultSensorStatus.RUNNING,
    required_resource_keys={"storage"},  # an asset sensor takes resources this way, not as parameters
    description="Sends a digest of a run date's high-severity insights as soon as insights are written.",
)
def alert_on_high_findings(context: SensorEvaluationContext, asset_event: EventLogEntry):
    storage: LakeStorage = context.resources.storage
    settings = AlertSettings.from_env(os.environ)
    if not settings.configured:
        return SkipReason("no alert channel configured (SHOPINSIGHT_SMTP_HOST, SHOPINSIGHT_ALERT_WEBHOOK_URL)")
    materialization = asset_event.asset_materialization
    if materialization is None or materialization.partition is None:
        return SkipReason("insights written without a partition")
    day = materialization.partition
    try:
        findings = storage.read_partition("insights", date.fromisoformat(day))
    except MissingPartitionError:
        return SkipReason(f"insights for {day} are not in the lake any more")
    high = findings.filter(pl.col("severity") == "high").sort("rank")
    if high.is_empty():
        return SkipReason(f"no high-severity finding for {day}")
    sentences = high.get_column("sentence").head(DIGEST_FINDINGS).to_list()
    send(findings_digest(day, sentences, high.height, asset_event.run_id, settings.ui_url), settings, context.log)
    return None


FRESHNESS_CHECK_KEYS: list[AssetCheckKey] = [key for checks in freshness_checks for key in checks.check_keys]


@sensor(
    name="alert_on_stale_assets",
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.RUNNING,
    description="Alerts when a freshness check (freshness.py) turns from passing (or never evaluated) to failing: "
    "a night that did not write its gold tables by the deadline, a model not retrained. Once per stale spell, "
    "not once per evaluation (a backfill evaluates the checks of every table it writes).",
)
def alert_on_stale_assets(context: SensorEvaluationContext):
    settings = AlertSettings.from_env(os.environ)
    if not settings.configured:
        return SkipReason("no alert channel configured (SHOPINSIGHT_SMTP_HOST, SHOPINSIGHT_ALERT_WEBHOOK_URL)")
    # per check: the id of the latest evaluation seen and whether it passed
    seen: dict[str, list] = json.loads(context.cursor) if context.cursor else {}
    turned_stale: list[tuple[str, str]] = []
    for key in FRESHNESS_CHECK_KEYS:
        record = context.instance.get_latest_asset_check_evaluation_record(key)
        name = key.to_user_string()
        if record is None or record.evaluation is None or record.id <= seen.get(name, [0, True])[0]:
            continue
        passed = record.evaluation.passed
        if not passed and seen.get(name, [0, True])[1]:
            turned_stale.append((key.asset_key.to_user_string(), record.evaluation.description or "stale"))
        seen[name] = [record.id, passed]
    context.update_cursor(json.dumps(seen, sort_keys=True))
    if not turned_stale:
        return SkipReason("no freshness check turned stale")
    send(stale_alert(turned_stale, settings.ui_url), settings, context.log)
    return None
