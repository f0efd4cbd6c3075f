"""alert_on_run_failure: a failed run of the project's jobs sends real mail to an SMTP server on
127.0.0.1 and a real HTTP POST to a local webhook, naming the job, the partition, the failed step
with its message and a link to the run; nothing is sent where nothing is configured."""

import json
import socket
import threading
from email import message_from_bytes
from email.policy import default
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from dagster import DagsterInstance, SkipReason, build_run_status_sensor_context

from shopinsight_pipeline.alerts.delivery import AlertSettings
from shopinsight_pipeline.alerts.sensors import alert_on_run_failure, partition_of
from shopinsight_pipeline.definitions import build_definitions

DAY = "2026-08-01"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mailbox():
    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self) -> None:
            self.received: list = []

        async def handle_DATA(self, server, session, envelope):
            self.received.append(envelope)
            return "250 OK"

    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler.received
    controller.stop()


@pytest.fixture
def webhook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *arguments) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/on-call", received
    server.shutdown()


def failed_night(tmp_path):
    """prepare_partition_job for a day whose landing files never came: the ingest steps fail."""
    instance = DagsterInstance.ephemeral()
    job = build_definitions(str(tmp_path)).resolve_job_def("prepare_partition_job")
    result = job.execute_in_process(partition_key=DAY, instance=instance, raise_on_error=False)
    assert not result.success
    context = build_run_status_sensor_context(
        sensor_name="alert_on_run_failure",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()
    return result, context


def test_a_failed_night_mails_and_posts_the_job_partition_failed_steps_and_a_link(
    tmp_path, mailbox, webhook, monkeypatch
):
    controller, mails = mailbox
    url, posts = webhook
    monkeypatch.setenv("SHOPINSIGHT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SHOPINSIGHT_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("SHOPINSIGHT_ALERT_FROM", "pipeline@shop.example")
    monkeypatch.setenv("SHOPINSIGHT_ALERT_TO", "oncall@shop.example, data@shop.example")
    monkeypatch.setenv("SHOPINSIGHT_ALERT_WEBHOOK_URL", url)
    monkeypatch.setenv("SHOPINSIGHT_UI_URL", "http://dagster.shop.example/")
    result, context = failed_night(tmp_path)
    alert_on_run_failure(context)

    [mail] = mails
    assert set(mail.rcpt_tos) == {"oncall@shop.example", "data@shop.example"}
    message = message_from_bytes(mail.content, policy=default)
    assert message["Subject"] == f"[ShopInsight] prepare_partition_job for {DAY} failed"
    body = message.get_content()
    assert f"- raw_orders: no orders landing file for {DAY}" in body
    assert f"- catalogue: no products landing file for {DAY}" in body
    assert f"Open: http://dagster.shop.example/runs/{result.run_id}" in body
    [post] = posts
    assert f"no orders landing file for {DAY}" in post["text"] and result.run_id in post["text"]
    assert post["text"].startswith(f"*[ShopInsight] prepare_partition_job for {DAY} failed*")


def test_one_channel_down_still_sends_the_other_and_the_sensor_says_which_failed(tmp_path, mailbox, monkeypatch):
    controller, mails = mailbox
    monkeypatch.setenv("SHOPINSIGHT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SHOPINSIGHT_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("SHOPINSIGHT_ALERT_TO", "oncall@shop.example")
    monkeypatch.setenv("SHOPINSIGHT_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/nobody-listens")
    _, context = failed_night(tmp_path)
    with pytest.raises(RuntimeError, match=r"not delivered by .*webhook"):
        alert_on_run_failure(context)
    assert len(mails) == 1


def test_nothing_is_sent_where_nothing_is_configured(tmp_path, monkeypatch):
    for name in ("SHOPINSIGHT_SMTP_HOST", "SHOPINSIGHT_ALERT_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    _, context = failed_night(tmp_path)
    assert isinstance(alert_on_run_failure(context), SkipReason)


def test_settings_refuse_a_mail_server_without_recipients_and_an_unknown_tls_mode():
    with pytest.raises(ValueError, match="SHOPINSIGHT_ALERT_TO names no recipient"):
        AlertSettings.from_env({"SHOPINSIGHT_SMTP_HOST": "smtp.example"})
    with pytest.raises(ValueError, match="SHOPINSIGHT_SMTP_TLS='tls1'"):
        AlertSettings.from_env({"SHOPINSIGHT_SMTP_TLS": "tls1"})
    assert AlertSettings.from_env({"SHOPINSIGHT_SMTP_TLS": "starttls"}).smtp_port == 587


def test_a_range_run_names_its_days():
    assert partition_of({"dagster/partition": DAY}) == DAY
    tags = {"dagster/asset_partition_range_start": DAY, "dagster/asset_partition_range_end": "2026-08-31"}
    assert partition_of(tags) == f"{DAY} to 2026-08-31"
    assert partition_of({}) is None


def configure_mail(monkeypatch, controller) -> None:
    monkeypatch.setenv("SHOPINSIGHT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SHOPINSIGHT_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("SHOPINSIGHT_ALERT_TO", "oncall@shop.example")
    monkeypatch.delenv("SHOPINSIGHT_ALERT_WEBHOOK_URL", raising=False)


def test_a_challenger_refused_as_worse_is_mailed_and_a_kept_one_is_not(mailbox, monkeypatch):
    from dagster import AssetMaterialization, build_sensor_context

    from shopinsight_pipeline.alerts.sensors import alert_on_refused_challenger

    controller, mails = mailbox
    configure_mail(monkeypatch, controller)
    instance = DagsterInstance.ephemeral()
    for refused in (False, True):
        decision = "challenger transformer ...: worse, champion kept" if refused else "not better, champion kept"
        instance.report_runless_asset_event(
            AssetMaterialization(
                "sentiment_model", metadata={"challenger_refused_as_worse": refused, "decision": decision}
            )
        )
        ticks = list(alert_on_refused_challenger(build_sensor_context(instance=instance)))  # an asset sensor yields
        assert any(isinstance(tick, SkipReason) for tick in ticks) != refused
    [mail] = mails
    message = message_from_bytes(mail.content, policy=default)
    assert message["Subject"] == "[ShopInsight] sentiment_model: challenger significantly worse"
    assert "worse, champion kept" in message.get_content()


def test_the_nights_high_severity_findings_are_sent_as_a_digest(tmp_path, mailbox, monkeypatch):
    from datetime import date

    import polars as pl
    from dagster import AssetMaterialization, build_sensor_context

    from shopinsight_pipeline.alerts.sensors import DIGEST_FINDINGS, alert_on_high_findings
    from shopinsight_pipeline.schemas import INSIGHTS_SCHEMA
    from shopinsight_pipeline.storage import LakeStorage

    controller, mails = mailbox
    configure_mail(monkeypatch, controller)
    storage = LakeStorage(root=str(tmp_path))
    severities = ["high"] * (DIGEST_FINDINGS + 2) + ["medium", "low"]
    findings = pl.DataFrame(
        {
            "run_date": [date(2026, 8, 1)] * len(severities),
            "rank": list(range(1, len(severities) + 1)),
            "type": ["aspect_negative_surge"] * len(severities),
            "entity_type": ["product"] * len(severities),
            "entity": [f"P{n:03d}" for n in range(len(severities))],
            "entity_name": [None] * len(severities),
            "severity": severities,
            "score": [1.0] * len(severities),
            "value": [0.5] * len(severities),
            "reference": [0.1] * len(severities),
            "numbers": [["50.0%"]] * len(severities),
            "sentence": [f"Finding number {n} about P{n:03d}." for n in range(len(severities))],
            "language": ["en"] * len(severities),
        },
        schema=INSIGHTS_SCHEMA,
    )
    storage.write_partition("insights", date(2026, 8, 1), findings)
    instance = DagsterInstance.ephemeral()
    instance.report_runless_asset_event(AssetMaterialization("insights", partition=DAY))
    # as the daemon evaluates it (a direct call would hand the resource to the asset sensor's wrapper)
    alert_on_high_findings.evaluate_tick(build_sensor_context(instance=instance, resources={"storage": storage}))
    [mail] = mails
    message = message_from_bytes(mail.content, policy=default)
    assert message["Subject"] == f"[ShopInsight] {DAY_HIGH} high-severity findings for {DAY}"
    body = message.get_content()
    assert [line for line in body.splitlines() if line.startswith("- ")] == [
        f"- Finding number {n} about P{n:03d}." for n in range(DIGEST_FINDINGS)
    ]  # the top ones, in rank order
    assert "... and 2 more in the insights table" in body and "medium" not in body


DAY_HIGH = 7
