"""Freshness that understands partitions: skip a night and the gold tables' freshness checks fail
and alert on-call; write the night and they pass (and nothing more is sent)."""

from datetime import date, timedelta
from email import message_from_bytes
from email.policy import default

from dagster import (
    AssetMaterialization,
    AssetSelection,
    DagsterInstance,
    Definitions,
    SkipReason,
    build_sensor_context,
    define_asset_job,
)

from shopinsight_pipeline.alerts.sensors import alert_on_stale_assets
from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.freshness import DAILY_GOLD, MODELS, freshness_checks
from shopinsight_pipeline_tests.alerts.test_run_failure_alerts import configure_mail, mailbox  # noqa: F401


def check_gold_tables(root, instance) -> dict:
    """The freshness sensor's work for the daily gold tables: their checks evaluated now."""
    [checks] = [c for c in freshness_checks if any(k.asset_key.path == ["daily_sales"] for k in c.check_keys)]
    job = define_asset_job("freshness_of_gold", selection=AssetSelection.checks(checks))
    definitions = Definitions.merge(build_definitions(str(root)), Definitions(jobs=[job]))
    result = definitions.resolve_job_def(job.name).execute_in_process(instance=instance, raise_on_error=False)
    return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}


def test_every_daily_gold_table_and_model_has_a_freshness_check_and_no_job_runs_them():
    checked = {key.asset_key.to_user_string() for checks in freshness_checks for key in checks.check_keys}
    assert checked == set(DAILY_GOLD) | set(MODELS)
    definitions = build_definitions("data")
    for job in ("nightly_partition_job", "prepare_partition_job", "score_partition_job", "retrain_job"):
        selected = definitions.resolve_job_def(job).asset_layer.asset_graph.asset_check_keys
        assert not [key for key in selected if key.name == "freshness_check"], job  # the sensor's, not the jobs'


def test_a_skipped_night_fails_the_check_and_alerts_and_the_written_night_passes(tmp_path, mailbox, monkeypatch):  # noqa: F811
    controller, mails = mailbox
    configure_mail(monkeypatch, controller)
    instance = DagsterInstance.ephemeral()
    skipped = check_gold_tables(tmp_path, instance)
    assert set(skipped) == set(DAILY_GOLD)
    assert not any(e.passed for e in skipped.values()) and "expect partition" in skipped["daily_sales"].description
    context = build_sensor_context(instance=instance)
    alert_on_stale_assets(context)
    [mail] = mails
    message = message_from_bytes(mail.content, policy=default)
    assert message["Subject"].startswith("[ShopInsight] stale: ") and "daily_sales" in message["Subject"]
    body = message.get_content()
    assert all(f"- {table}: " in body for table in DAILY_GOLD) and "expect partition" in body

    today = date.today()
    for table in DAILY_GOLD:  # the night ran: every recent day written, whatever the deadline says
        for days_ago in range(4):
            day = (today - timedelta(days=days_ago)).isoformat()
            instance.report_runless_asset_event(AssetMaterialization(table, partition=day))
    assert all(e.passed for e in check_gold_tables(tmp_path, instance).values())
    context = build_sensor_context(instance=instance, cursor=context.cursor)
    assert isinstance(alert_on_stale_assets(context), SkipReason) and len(mails) == 1  # a pass sends nothing


def test_a_stale_spell_alerts_once_however_often_the_checks_fail(tmp_path, mailbox, monkeypatch):  # noqa: F811
    controller, mails = mailbox
    configure_mail(monkeypatch, controller)
    instance = DagsterInstance.ephemeral()
    context = build_sensor_context(instance=instance)
    for _ in range(3):  # e.g. a backfill's runs evaluating the checks of the tables they write
        check_gold_tables(tmp_path, instance)
        alert_on_stale_assets(context)
        context = build_sensor_context(instance=instance, cursor=context.cursor)
    assert len(mails) == 1
