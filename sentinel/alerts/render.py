"""Turn alerts into each channel's payload (what `notifications.payload` holds and the channels send).

email {subject, text, html}; slack {text, blocks}; sms {body} (<= 320 chars, ASCII); webhook {the JSON event};
console {text}. Digests render several alerts into one message of the same shapes.
"""

from __future__ import annotations

import hashlib
import html
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sentinel.alerts.evaluate import AlertCandidate

PRODUCT = "ViolationSentinel"
SMS_MAX_CHARS = 320  # two concatenated GSM-7 segments: a Class C alert must not cost more than that
SLACK_HEADER_MAX = 150  # Block Kit limit for a header's plain_text
SLACK_DIGEST_MAX_ITEMS = 20  # a message has at most 50 blocks; keep room for the header and the tail
_RECORD_LINES = ("source", "source_id", "violation_class", "severity", "category", "new_status", "issued_date",
                 "certify_by_date", "correct_by_date", "hearing_date", "balance_due", "score_kind", "new_score",
                 "old_score", "dataset", "last_updated_at")  # fmt: skip


@dataclass(frozen=True)
class AlertView:
    """An alert as rendering needs it: the `alerts` row (or a candidate about to become one)."""

    rule_id: int
    org_id: int
    bbl: str
    trigger_key: str
    title: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    alert_id: int | None = None

    @classmethod
    def from_candidate(cls, candidate: AlertCandidate, alert_id: int | None = None) -> AlertView:
        return cls(
            candidate.rule_id,
            candidate.org_id,
            candidate.bbl,
            candidate.trigger_key,
            candidate.title,
            candidate.payload,
            alert_id,
        )

    @property
    def summary(self) -> str:
        return str(self.payload.get("summary") or self.title)

    @property
    def rule_name(self) -> str:
        return str((self.payload.get("rule") or {}).get("name") or f"rule {self.rule_id}")

    @property
    def location(self) -> str | None:
        return self.payload.get("location")

    def record_lines(self) -> list[tuple[str, str]]:
        record = self.payload.get("record") or {}
        return [(name.replace("_", " "), str(record[name])) for name in _RECORD_LINES if name in record]


def render(alert: AlertView, kind: str) -> dict[str, Any]:
    return _RENDERERS[kind](alert)


def render_digest(alerts: Sequence[AlertView], kind: str, period: str) -> dict[str, Any]:
    """One message for several alerts; `period` names the digest ("hourly", "daily")."""
    if len(alerts) == 1:
        return render(alerts[0], kind)
    return _DIGEST_RENDERERS[kind](alerts, period)


def email(alert: AlertView) -> dict[str, Any]:
    lines = [alert.title, "", alert.summary, ""]
    if alert.location:
        lines.append(f"Building: {alert.location}")
    lines.append(f"Rule: {alert.rule_name}")
    lines += [f"{name}: {value}" for name, value in alert.record_lines()]
    lines += ["", f"-- {PRODUCT}"]
    rows = "".join(
        f"<tr><th align='left'>{_h(name)}</th><td>{_h(value)}</td></tr>" for name, value in alert.record_lines()
    )
    building = f"<p>Building: {_h(alert.location)}</p>" if alert.location else ""
    body = (
        f"<h2>{_h(alert.title)}</h2><p>{_h(alert.summary)}</p>{building}"
        f"<p>Rule: {_h(alert.rule_name)}</p><table>{rows}</table>"
        f"<p style='color:#888'>{PRODUCT}</p>"
    )
    return {"subject": _one_line(f"[{PRODUCT}] {alert.title}"), "text": "\n".join(lines), "html": _html_page(body)}


def slack(alert: AlertView) -> dict[str, Any]:
    fields = [{"type": "mrkdwn", "text": f"*Rule*\n{_mrkdwn(alert.rule_name)}"}]
    if alert.location:
        fields.insert(0, {"type": "mrkdwn", "text": f"*Building*\n{_mrkdwn(alert.location)}"})
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(_one_line(alert.title), SLACK_HEADER_MAX)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(alert.summary)}, "fields": fields},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{PRODUCT} | {_mrkdwn(alert.trigger_key)}"}]},
    ]
    return {"text": alert.title, "blocks": blocks}


def sms(alert: AlertView) -> dict[str, Any]:
    text = f"{PRODUCT}: {alert.title}."
    if alert.summary != alert.title:
        text += f" {alert.summary}"
    return {"body": _sms_text(text)}


def webhook(alert: AlertView) -> dict[str, Any]:
    return _event(alert)


def console(alert: AlertView) -> dict[str, Any]:
    return {"text": f"{alert.title}: {alert.summary}"}


def _event(alert: AlertView) -> dict[str, Any]:
    # `id` is stable across retries so receivers can deduplicate deliveries.
    event_id = f"alert_{alert.alert_id}" if alert.alert_id is not None else f"rule_{alert.rule_id}:{alert.trigger_key}"
    return {
        "id": event_id,
        "type": "alert.created",
        "event_type": alert.payload.get("event_type"),
        "alert_id": alert.alert_id,
        "org_id": alert.org_id,
        "rule": {"id": alert.rule_id, "name": alert.rule_name},
        "bbl": alert.bbl,
        "address": alert.payload.get("address"),
        "trigger_key": alert.trigger_key,
        "title": alert.title,
        "summary": alert.summary,
        "record": dict(alert.payload.get("record") or {}),
    }


def _digest_title(alerts: Sequence[AlertView], period: str) -> str:
    buildings = len({a.bbl for a in alerts})
    return f"{len(alerts)} new alerts in {buildings} building{'s' if buildings != 1 else ''} ({period} digest)"


def email_digest(alerts: Sequence[AlertView], period: str) -> dict[str, Any]:
    title = _digest_title(alerts, period)
    text = [title, ""] + [f"- {a.title}\n  {a.summary}" for a in alerts] + ["", f"-- {PRODUCT}"]
    items = "".join(f"<li><b>{_h(a.title)}</b><br>{_h(a.summary)}</li>" for a in alerts)
    return {
        "subject": f"[{PRODUCT}] {title}",
        "text": "\n".join(text),
        "html": _html_page(f"<h2>{_h(title)}</h2><ul>{items}</ul>"),
    }


def slack_digest(alerts: Sequence[AlertView], period: str) -> dict[str, Any]:
    title = _digest_title(alerts, period)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title, SLACK_HEADER_MAX)}}
    ]
    for a in alerts[:SLACK_DIGEST_MAX_ITEMS]:
        text = f"*{_mrkdwn(a.title)}*\n{_mrkdwn(a.summary)}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, 3000)}})
    if len(alerts) > SLACK_DIGEST_MAX_ITEMS:
        more = len(alerts) - SLACK_DIGEST_MAX_ITEMS
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"and {more} more"}]})
    return {"text": title, "blocks": blocks}


def sms_digest(alerts: Sequence[AlertView], period: str) -> dict[str, Any]:
    text = f"{PRODUCT}: {_digest_title(alerts, period)}. " + "; ".join(a.title for a in alerts)
    return {"body": _sms_text(text)}


def webhook_digest(alerts: Sequence[AlertView], period: str) -> dict[str, Any]:
    events = [_event(a) for a in alerts]
    return {
        # Derived from the alerts it carries, so a retried delivery keeps its id.
        "id": "digest_" + hashlib.sha256(",".join(e["id"] for e in events).encode()).hexdigest()[:24],
        "type": "alert.digest",
        "period": period,
        "alerts": events,
    }


def console_digest(alerts: Sequence[AlertView], period: str) -> dict[str, Any]:
    return {"text": _digest_title(alerts, period) + "\n" + "\n".join(f"- {a.title}" for a in alerts)}


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _h(value: str | None) -> str:
    return html.escape(value or "", quote=True)


def _html_page(body: str) -> str:
    return f"<!doctype html><html><body style='font-family:sans-serif'>{body}</body></html>"


def _mrkdwn(value: str) -> str:
    # Slack's three control characters; everything else is literal.
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(value: str, limit: int, ellipsis: str = "...") -> str:
    return value if len(value) <= limit else value[: limit - len(ellipsis)].rstrip() + ellipsis


def _sms_text(text: str) -> str:
    # Fold accents and drop other non-ASCII: one such character would switch the SMS to UCS-2 (70 chars/part).
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _clip(" ".join(ascii_text.split()), SMS_MAX_CHARS)


_RENDERERS = {"email": email, "slack": slack, "sms": sms, "webhook": webhook, "console": console}
_DIGEST_RENDERERS = {
    "email": email_digest,
    "slack": slack_digest,
    "sms": sms_digest,
    "webhook": webhook_digest,
    "console": console_digest,
}
