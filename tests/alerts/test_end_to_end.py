"""From an ingested change to what a receiver gets: evaluate -> plan -> group -> render -> send."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from sentinel.alerts import evaluate
from sentinel.alerts.digest import group, plan
from sentinel.alerts.events import ViolationChange
from sentinel.alerts.render import AlertView
from sentinel.channels import SIGNATURE_HEADER, WebhookChannel, WebhookSettings, verify_signature
from tests.alerts.factories import BBL_A, DIRECTORY, TODAY, rule
from tests.channels.receivers import LOCAL_RECEIVERS, HttpReceiver


def test_a_class_c_violation_reaches_a_webhook_signed_and_deferred_past_quiet_hours(receiver: HttpReceiver) -> None:
    r = rule(
        {"type": "new_violation", "classes": ["C"]},
        id=5,
        channels=[{"kind": "webhook", "target": f"{receiver.url}/hooks/vs"}],
        quiet_hours={"start": "22:00", "end": "07:00"},
    )
    event = ViolationChange(
        "HPD", "777", BBL_A, "open", violation_class="C", description="No heat", certify_by_date=TODAY + timedelta(1)
    )
    created = datetime(2026, 3, 3, 4, tzinfo=UTC)  # 23:00 EST: quiet
    (candidate,) = evaluate(r, [event], created, DIRECTORY)
    json.dumps(candidate.payload)  # goes into alerts.payload (jsonb) as is

    (batch,) = group(plan(r, AlertView.from_candidate(candidate, alert_id=31), created))
    assert batch.due_at == datetime(2026, 3, 3, 12, tzinfo=UTC)  # 07:00 EST

    sent_at = batch.due_at.timestamp()
    channel = WebhookChannel(WebhookSettings(signing_secret=SecretStr("s3")), LOCAL_RECEIVERS, clock=lambda: sent_at)
    channel.send(batch.notification())

    (request,) = receiver.requests
    verify_signature("s3", request.headers[SIGNATURE_HEADER.lower()], request.body, 300, now=sent_at + 1)
    body = json.loads(request.body)
    assert body["id"] == "alert_31"
    assert body["trigger_key"] == "violation:HPD:777:new"
    assert body["summary"] == "New HPD Class C violation: No heat, certify by 2026-03-03"
