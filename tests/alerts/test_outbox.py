"""The outbox against real PostgreSQL, a real local SMTP server and a real HTTP receiver."""

from __future__ import annotations

import email
import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from pydantic import SecretStr

from sentinel.alerts.engine import evaluate_run
from sentinel.alerts.outbox import Outbox, OutboxPolicy
from sentinel.channels import (
    SIGNATURE_HEADER,
    Channel,
    ChannelKind,
    DeliveryResult,
    Notification,
    SmtpEmailChannel,
    SmtpSettings,
    WebhookChannel,
    WebhookSettings,
    verify_signature,
)
from tests.alerts import seed
from tests.alerts.seed import WATCHED
from tests.channels.receivers import LOCAL_RECEIVERS, EphemeralPortController, HttpReceiver, SmtpRecorder

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SECRET = "whsec-test"
POLICY = OutboxPolicy(max_attempts=4, base_backoff=timedelta(seconds=30), lease=timedelta(minutes=5))


def _webhook(receiver: HttpReceiver) -> WebhookChannel:
    return WebhookChannel(WebhookSettings(signing_secret=SecretStr(SECRET), timeout_s=5), LOCAL_RECEIVERS)


def _alerts(conn: psycopg.Connection, channels: list[dict[str, str]], count: int = 1, **rule: object) -> None:
    org_id = seed.org(conn)
    seed.portfolio(conn, org_id, [WATCHED])
    seed.rule(conn, org_id, {"type": "new_violation"}, channels, **rule)  # type: ignore[arg-type]
    run_id = seed.run(conn, NOW - timedelta(minutes=2))
    for i in range(count):
        seed.violation(conn, f"v{i}", WATCHED, run_id, NOW - timedelta(minutes=1))
    evaluate_run(conn, run_id, NOW)


def test_email_and_signed_webhook_are_delivered_once(
    conn: psycopg.Connection,
    db_url: str,
    smtp_server: tuple[EphemeralPortController, SmtpRecorder],
    receiver: HttpReceiver,
) -> None:
    controller, recorder = smtp_server
    _alerts(conn, [{"kind": "email", "target": "owner@example.com"}, {"kind": "webhook", "target": receiver.url}])
    channels: dict[ChannelKind, Channel] = {
        "email": SmtpEmailChannel(SmtpSettings(host="127.0.0.1", port=controller.port)),
        "webhook": _webhook(receiver),
    }
    outbox = Outbox(db_url, channels, POLICY)

    first = outbox.drain(NOW)
    again = outbox.drain(NOW + timedelta(hours=1))

    assert (first.sent, again.claimed) == (2, 0)
    (envelope,) = recorder.envelopes
    assert envelope.rcpt_tos == ["owner@example.com"]
    assert "Class C" in email.message_from_bytes(envelope.content)["Subject"]
    (request,) = receiver.requests
    verify_signature(SECRET, request.headers[SIGNATURE_HEADER.lower()], request.body)
    assert json.loads(request.body)["trigger_key"] == "violation:HPD:v0:new"
    assert {n["status"] for n in seed.notifications(conn)} == {"sent"}


def test_a_receiver_failing_three_times_gets_exactly_one_successful_delivery(
    conn: psycopg.Connection, db_url: str, receiver: HttpReceiver
) -> None:
    _alerts(conn, [{"kind": "webhook", "target": receiver.url}])
    for _ in range(3):
        receiver.respond(503, b"busy")
    outbox = Outbox(db_url, {"webhook": _webhook(receiver)}, POLICY)

    now, waits = NOW, []
    for _ in range(4):
        assert outbox.drain_once(now).claimed == 1
        (row,) = seed.notifications(conn)
        waits.append(row["next_attempt_at"] - now)
        assert outbox.drain_once(now).claimed == 0  # nothing before the backoff ends
        now = row["next_attempt_at"]

    (row,) = seed.notifications(conn)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 4, None)
    assert waits[:3] == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert [r.body for r in receiver.requests].count(receiver.requests[0].body) == 4
    assert outbox.drain(now + timedelta(days=1)).claimed == 0


def test_a_receiver_that_always_fails_ends_dead_with_its_last_error(
    conn: psycopg.Connection, db_url: str, receiver: HttpReceiver
) -> None:
    _alerts(conn, [{"kind": "webhook", "target": receiver.url}])
    for _ in range(10):
        receiver.respond(500, b"boom")
    outbox = Outbox(db_url, {"webhook": _webhook(receiver)}, POLICY)

    now = NOW
    for _ in range(POLICY.max_attempts):
        outbox.drain_once(now)
        now += POLICY.max_backoff

    (row,) = seed.notifications(conn)
    assert (row["status"], row["attempts"]) == ("dead", POLICY.max_attempts)
    assert "500" in row["last_error"]
    assert outbox.drain(now + timedelta(days=1)).claimed == 0
    assert len(receiver.requests) == POLICY.max_attempts


def test_a_rejected_request_is_dead_at_once(conn: psycopg.Connection, db_url: str, receiver: HttpReceiver) -> None:
    _alerts(conn, [{"kind": "webhook", "target": receiver.url}])
    receiver.respond(410, b"gone")
    Outbox(db_url, {"webhook": _webhook(receiver)}, POLICY).drain(NOW)
    (row,) = seed.notifications(conn)
    assert (row["status"], row["attempts"]) == ("dead", 1)


class NotifierCrash(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the outbox catches it."""


class CrashAfter:
    kind: ChannelKind = "webhook"

    def __init__(self, inner: Channel, sends: int) -> None:
        self.inner, self.left = inner, sends

    def send(self, notification: Notification) -> DeliveryResult:
        if self.left == 0:
            raise NotifierCrash
        self.left -= 1
        return self.inner.send(notification)


def test_a_notifier_killed_mid_batch_is_taken_over_after_its_lease_without_repeats(
    conn: psycopg.Connection, db_url: str, receiver: HttpReceiver
) -> None:
    _alerts(conn, [{"kind": "webhook", "target": receiver.url}], count=6)
    crashing = Outbox(db_url, {"webhook": CrashAfter(_webhook(receiver), sends=2)}, POLICY)
    with pytest.raises(NotifierCrash):
        crashing.drain_once(NOW)
    crashing.close()
    statuses = [n["status"] for n in seed.notifications(conn)]
    assert statuses == ["sent", "sent"] + ["sending"] * 4

    successor = Outbox(db_url, {"webhook": _webhook(receiver)}, POLICY)
    assert successor.drain(NOW + timedelta(minutes=1)).claimed == 0  # the lease still holds
    taken_over = successor.drain(NOW + POLICY.lease)

    assert taken_over.sent == 4
    ids = [json.loads(r.body)["id"] for r in receiver.requests]
    assert len(ids) == 6 and len(set(ids)) == 6
    assert {n["status"] for n in seed.notifications(conn)} == {"sent"}


def test_a_late_confirmation_from_a_notifier_whose_lease_was_taken_over_is_ignored(
    conn: psycopg.Connection, db_url: str, receiver: HttpReceiver
) -> None:
    _alerts(conn, [{"kind": "webhook", "target": receiver.url}])
    slow = Outbox(db_url, {"webhook": _webhook(receiver)}, POLICY)
    stale_claim = slow.claim(NOW)
    fast = Outbox(db_url, {"webhook": _webhook(receiver)}, POLICY)
    assert fast.drain(NOW + POLICY.lease).sent == 1

    receiver.respond(500, b"late")
    slow.deliver(stale_claim, NOW + POLICY.lease)  # fails, but the row is no longer its to touch
    (row,) = seed.notifications(conn)
    assert (row["status"], row["last_error"]) == ("sent", None)


def test_due_digest_rows_go_out_as_one_message_per_target(
    conn: psycopg.Connection, db_url: str, receiver: HttpReceiver
) -> None:
    _alerts(conn, [{"kind": "webhook", "target": receiver.url}], count=3, delivery="hourly")
    outbox = Outbox(db_url, {"webhook": _webhook(receiver)}, POLICY)
    assert outbox.drain(NOW).claimed == 0  # not due before the hour

    result = outbox.drain(NOW + timedelta(hours=1))

    assert (result.claimed, result.messages, result.sent) == (3, 1, 3)
    (request,) = receiver.requests
    body = json.loads(request.body)
    assert body["type"] == "alert.digest"
    assert sorted(a["trigger_key"] for a in body["alerts"]) == [f"violation:HPD:v{i}:new" for i in range(3)]


def test_an_alert_row_is_rendered_from_its_alert_when_sent_and_a_retry_sends_the_same_event(
    conn: psycopg.Connection, db_url: str, receiver: HttpReceiver
) -> None:
    _alerts(conn, [{"kind": "webhook", "target": receiver.url}])
    (row,) = seed.notifications(conn)
    assert row["payload"] is None
    receiver.respond(503, b"busy")
    outbox = Outbox(db_url, {"webhook": _webhook(receiver)}, POLICY)

    outbox.drain(NOW)
    outbox.drain(NOW + POLICY.max_backoff)

    first, second = (json.loads(r.body) for r in receiver.requests)
    assert first == second
    assert (first["id"], first["alert_id"]) == (f"alert_{row['alert_id']}", row["alert_id"])
    assert first["record"]["violation_class"] == "C"


def test_a_row_without_an_alert_is_sent_as_stored_and_a_row_with_neither_is_refused(
    conn: psycopg.Connection, db_url: str, receiver: HttpReceiver
) -> None:
    org_id = seed.org(conn)
    stored = {"id": "test_1", "type": "test"}
    conn.execute(
        "INSERT INTO notifications (org_id, channel, target, payload, next_attempt_at) VALUES (%s, 'webhook', %s,"
        " %s, %s)",
        (org_id, receiver.url, json.dumps(stored), NOW),
    )

    assert Outbox(db_url, {"webhook": _webhook(receiver)}, POLICY).drain(NOW).sent == 1
    (request,) = receiver.requests
    assert json.loads(request.body) == stored
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO notifications (org_id, channel, target) VALUES (%s, 'webhook', %s)", (org_id, receiver.url)
        )
