"""Channel payloads from alerts, and digest grouping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sentinel.alerts import evaluate
from sentinel.alerts.digest import group, plan
from sentinel.alerts.events import ViolationChange
from sentinel.alerts.render import SMS_MAX_CHARS, AlertView, render, render_digest
from tests.alerts.factories import BBL_A, BBL_B, DIRECTORY, NOW, TODAY, rule


def alert(
    description: str = "Provide heat <urgent> & hot water", source_id: str = "12345", bbl: str = BBL_A
) -> AlertView:
    event = ViolationChange(
        "HPD",
        source_id,
        bbl,
        "open",
        violation_class="C",
        description=description,
        certify_by_date=TODAY + timedelta(days=1),
        address="12 Café St",
    )
    (c,) = evaluate(rule({"type": "new_violation"}, name="Class C"), [event], NOW, DIRECTORY)
    return AlertView.from_candidate(c, alert_id=99)


def test_email_has_subject_text_and_escaped_html() -> None:
    payload = render(alert(), "email")
    assert payload["subject"] == "[ViolationSentinel] New HPD Class C violation at 12 Café St (BBL 1000010001)"
    assert "Provide heat <urgent> & hot water, certify by 2026-03-03" in payload["text"]
    assert "Rule: Class C" in payload["text"]
    assert "&lt;urgent&gt; &amp; hot water" in payload["html"]
    assert "<urgent>" not in payload["html"]


def test_slack_has_header_section_and_fallback_text() -> None:
    payload = render(alert(), "slack")
    assert payload["text"].startswith("New HPD Class C violation")
    assert [b["type"] for b in payload["blocks"]] == ["header", "section", "context"]
    assert payload["blocks"][0]["text"]["type"] == "plain_text"
    assert "&lt;urgent&gt; &amp;" in payload["blocks"][1]["text"]["text"]


@pytest.mark.parametrize("length", [10, 300, 5000])
def test_sms_fits_two_segments_in_plain_ascii(length: int) -> None:
    body = render(alert("x" * length), "sms")["body"]
    assert len(body) <= SMS_MAX_CHARS
    assert body.isascii()
    assert body.startswith("ViolationSentinel: New HPD Class C violation at 12 Cafe St")


def test_webhook_event_has_type_ids_bbl_rule_and_record() -> None:
    payload = render(alert(), "webhook")
    assert payload["type"] == "alert.created"
    assert payload["id"] == "alert_99"
    assert payload["alert_id"] == 99
    assert payload["bbl"] == BBL_A
    assert payload["rule"]["name"] == "Class C"
    assert payload["trigger_key"] == "violation:HPD:12345:new"
    assert payload["record"]["violation_class"] == "C"
    assert payload["event_type"] == "violation.new"


def test_every_channel_renders_digests() -> None:
    alerts = [alert(source_id=str(i), bbl=BBL_A if i % 2 else BBL_B) for i in range(30)]
    email = render_digest(alerts, "email", "daily")
    assert email["subject"] == "[ViolationSentinel] 30 new alerts in 2 buildings (daily digest)"
    assert email["text"].count("- New HPD Class C") == 30
    slack = render_digest(alerts, "slack", "daily")
    assert len(slack["blocks"]) <= 50
    assert slack["blocks"][-1]["elements"][0]["text"] == "and 10 more"
    assert len(render_digest(alerts, "sms", "daily")["body"]) <= SMS_MAX_CHARS
    hook = render_digest(alerts, "webhook", "daily")
    assert hook["type"] == "alert.digest"
    assert len(hook["alerts"]) == 30
    assert hook["id"] == render_digest(alerts, "webhook", "daily")["id"]
    assert "30 new alerts" in render_digest(alerts, "console", "daily")["text"]


def test_digest_groups_per_org_channel_target_and_due_time() -> None:
    daily = rule(
        {"type": "new_violation"},
        delivery="daily",
        channels=[{"kind": "email", "target": "pm@example.com"}, {"kind": "sms", "target": "+15550001"}],
    )
    other_daily_rule = rule(
        {"type": "new_complaint"}, id=2, delivery="daily", channels=[{"kind": "email", "target": "pm@example.com"}]
    )
    immediate = rule({"type": "new_violation"}, id=3, channels=[{"kind": "slack", "target": "https://hooks/x"}])
    t = datetime(2026, 1, 15, 15, tzinfo=UTC)  # 10:00 EST: the daily digest is tomorrow 08:00 EST
    outgoing = (
        plan(daily, alert(source_id="1"), t)
        + plan(other_daily_rule, alert(source_id="2"), t + timedelta(hours=2))
        + plan(immediate, alert(source_id="3"), t)
        + plan(immediate, alert(source_id="4"), t)
        + plan(daily, alert(source_id="5"), t + timedelta(days=1))  # after tomorrow's digest: the next one
    )
    batches = group(outgoing)
    summary = [(b.channel, b.target, b.due_at, len(b.alerts)) for b in batches]
    tomorrow_8 = datetime(2026, 1, 16, 13, tzinfo=UTC)
    assert summary == [
        ("email", "pm@example.com", tomorrow_8, 2),  # across both rules
        ("sms", "+15550001", tomorrow_8, 1),
        ("slack", "https://hooks/x", t, 1),
        ("slack", "https://hooks/x", t, 1),  # immediate alerts are never merged
        ("email", "pm@example.com", tomorrow_8 + timedelta(days=1), 1),
        ("sms", "+15550001", tomorrow_8 + timedelta(days=1), 1),
    ]
    assert batches[0].payload()["subject"].endswith("(daily digest)")
    assert batches[2].payload()["blocks"][0]["type"] == "header"
