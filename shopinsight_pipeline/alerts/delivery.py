"""Alerts to the people on call: what an alert says and how it is delivered (mail over SMTP, a
Slack-compatible webhook). Pure of Dagster: alerts/sensors.py builds the alerts from runs.

Settings are the deployment's (environment variables, as the other deployment settings):
SHOPINSIGHT_SMTP_HOST, _PORT (25; 465 with ssl, 587 with starttls), _TLS (none, starttls, ssl),
_USER and _PASSWORD (optional), SHOPINSIGHT_ALERT_FROM, SHOPINSIGHT_ALERT_TO (comma-separated),
SHOPINSIGHT_ALERT_WEBHOOK_URL, and SHOPINSIGHT_UI_URL (the Dagster UI's address, for links to runs).
Nothing is sent where nothing is configured.
"""

import json
import smtplib
import ssl
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage

TLS_MODES = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class AlertSettings:
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_tls: str = "none"
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    sender: str = "shopinsight@localhost"
    recipients: tuple[str, ...] = ()
    webhook_url: str = ""
    ui_url: str = ""
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.smtp_tls not in TLS_MODES:
            raise ValueError(f"SHOPINSIGHT_SMTP_TLS={self.smtp_tls!r}: expected one of {list(TLS_MODES)}")
        if self.smtp_host and not self.recipients:
            raise ValueError("SHOPINSIGHT_SMTP_HOST is set but SHOPINSIGHT_ALERT_TO names no recipient")

    @property
    def mail(self) -> bool:
        return bool(self.smtp_host)

    @property
    def configured(self) -> bool:
        return self.mail or bool(self.webhook_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "AlertSettings":
        tls = environ.get("SHOPINSIGHT_SMTP_TLS", "none")
        default_port = {"none": 25, "starttls": 587, "ssl": 465}.get(tls, 25)
        recipients = tuple(r.strip() for r in environ.get("SHOPINSIGHT_ALERT_TO", "").split(",") if r.strip())
        return cls(
            smtp_host=environ.get("SHOPINSIGHT_SMTP_HOST", ""),
            smtp_port=int(environ.get("SHOPINSIGHT_SMTP_PORT", default_port)),
            smtp_tls=tls,
            smtp_user=environ.get("SHOPINSIGHT_SMTP_USER", ""),
            smtp_password=environ.get("SHOPINSIGHT_SMTP_PASSWORD", ""),
            sender=environ.get("SHOPINSIGHT_ALERT_FROM", "shopinsight@localhost"),
            recipients=recipients,
            webhook_url=environ.get("SHOPINSIGHT_ALERT_WEBHOOK_URL", ""),
            ui_url=environ.get("SHOPINSIGHT_UI_URL", "").rstrip("/"),
        )


@dataclass(frozen=True)
class Alert:
    """One alert: a subject line, the lines of its body, and a link to follow."""

    subject: str
    lines: tuple[str, ...]
    link: str = ""

    @property
    def text(self) -> str:
        return "\n".join([*self.lines, *([f"Open: {self.link}"] if self.link else [])])


def run_link(ui_url: str, run_id: str) -> str:
    return f"{ui_url}/runs/{run_id}" if ui_url else ""


def run_failure_alert(
    job: str, run_id: str, partition: str | None, failures: Sequence[tuple[str, str]], ui_url: str = ""
) -> Alert:
    """A failed run: its job, its partition (or range), each failed step or check with its message."""
    where = f" for {partition}" if partition else ""
    lines = [f"Run {run_id} of {job}{where} failed."]
    lines += [
        f"- {step}: {message.strip().splitlines()[0] if message.strip() else 'no message'}"
        for step, message in failures
    ]
    if not failures:
        lines.append("- no step failed: the run itself failed (see its logs)")
    return Alert(f"[ShopInsight] {job}{where} failed", tuple(lines), run_link(ui_url, run_id))


def gate_refused_alert(model: str, decision: str, run_id: str, ui_url: str = "") -> Alert:
    """A training run whose challenger is significantly worse than the serving champion: the
    champion keeps serving, but a data or training problem may be behind it."""
    lines = (
        f"The {model} gate refused the new challenger as significantly worse than the champion, which keeps serving.",
        f"Decision: {decision}",
    )
    return Alert(f"[ShopInsight] {model}: challenger significantly worse", lines, run_link(ui_url, run_id))


def findings_digest(day: str, sentences: Sequence[str], total: int, run_id: str, ui_url: str = "") -> Alert:
    """The night's high-severity insights, before anyone opens the report: at most the first few
    (ranked) sentences, and how many there are."""
    shown = [f"- {sentence}" for sentence in sentences]
    more = [f"... and {total - len(sentences)} more in the insights table"] if total > len(sentences) else []
    plural = "s" if total != 1 else ""
    return Alert(
        f"[ShopInsight] {total} high-severity finding{plural} for {day}",
        (f"High-severity insights for {day}:", *shown, *more),
        run_link(ui_url, run_id),
    )


def stale_alert(stale: Sequence[tuple[str, str]], ui_url: str = "") -> Alert:
    """Assets whose freshness check failed, each with what was expected (the day, the age)."""
    assets = ", ".join(asset for asset, _ in stale)
    lines = (
        "Freshness checks failed: a night did not write its tables, or a model was not retrained.",
        *(f"- {asset}: {why}" for asset, why in stale),
    )
    return Alert(f"[ShopInsight] stale: {assets}", lines, f"{ui_url}/assets" if ui_url else "")


def email_message(alert: Alert, settings: AlertSettings) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message.set_content(alert.text)
    return message


def webhook_payload(alert: Alert) -> dict:
    """Slack-compatible JSON (also read by Mattermost, Rocket.Chat and Teams' Slack connectors)."""
    text = f"*{alert.subject}*\n" + "\n".join(alert.lines)
    if alert.link:
        text += f"\n<{alert.link}|Open the run>"
    return {"text": text}


def send_email(alert: Alert, settings: AlertSettings) -> None:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_tls == "ssl":
        smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_s, context=context)
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_s)
    with smtp:
        if settings.smtp_tls == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(email_message(alert, settings))


def post_webhook(alert: Alert, settings: AlertSettings) -> None:
    body = json.dumps(webhook_payload(alert)).encode("utf-8")
    request = urllib.request.Request(
        settings.webhook_url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=settings.timeout_s) as response:
        if response.status >= 300:
            raise OSError(f"webhook answered HTTP {response.status}")


def deliver(alert: Alert, settings: AlertSettings) -> dict[str, str]:
    """Send by every configured channel; one failing channel does not stop the other. Returns
    channel -> "sent" or the error, for the sensor's log."""
    outcome: dict[str, str] = {}
    channels = {"mail": (settings.mail, send_email), "webhook": (bool(settings.webhook_url), post_webhook)}
    for name, (configured, send) in channels.items():
        if not configured:
            continue
        try:
            send(alert, settings)
            outcome[name] = "sent"
        except (OSError, smtplib.SMTPException) as error:
            outcome[name] = f"{type(error).__name__}: {error}"
    return outcome
