"""From a change at the (replayed) source to the email and the signed webhook, through the real ingestion."""

from __future__ import annotations

import email
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from pydantic import SecretStr

from citysim.replay.server import serve_in_background
from sentinel.alerts.engine import evaluate_run, evaluate_time_based
from sentinel.alerts.outbox import Outbox
from sentinel.channels import (
    SIGNATURE_HEADER,
    SmtpEmailChannel,
    SmtpSettings,
    WebhookChannel,
    WebhookSettings,
    verify_signature,
)
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from tests.alerts import flow
from tests.channels.receivers import LOCAL_RECEIVERS, EphemeralPortController, HttpReceiver, SmtpRecorder, wait_for

SECRET = "e2e-secret"


@pytest.fixture(autouse=True)
def _needs_samples() -> None:
    if not flow.HPD_SAMPLE.is_file():
        pytest.skip(f"real HPD sample not found at {flow.HPD_SAMPLE}")


def test_a_published_change_reaches_email_and_signed_webhook_once(
    db_url: str, smtp_server: tuple[EphemeralPortController, SmtpRecorder], receiver: HttpReceiver
) -> None:
    controller, recorder = smtp_server
    channels = {
        "email": SmtpEmailChannel(SmtpSettings(host="127.0.0.1", port=controller.port)),
        "webhook": WebhookChannel(WebhookSettings(signing_secret=SecretStr(SECRET)), LOCAL_RECEIVERS),
    }
    hpd = RunOptions(datasets=["hpd_violations"], incremental=True)
    with serve_in_background(sources=flow.hpd_sources()) as server, psycopg.connect(db_url, autocommit=True) as conn:
        run_serial(db_url, SocrataSource(server.url), RunOptions(datasets=["hpd_violations"], incremental=False))
        open_row = flow.an_open_violation(server.url)
        flow.watch(conn, open_row["bbl"], "owner@example.com", f"{receiver.url}/hooks")
        today = datetime.now(ZoneInfo("America/New_York")).date()
        closed = {
            "violationid": open_row["violationid"],
            "violationstatus": "Close",
            "currentstatus": "VIOLATION CLOSED",
            "currentstatusdate": f"{today.isoformat()}T00:00:00.000",
        }
        server.apply_changes(flow.changes([flow.new_class_c(open_row, "99000001", today + timedelta(days=3)), closed]))

        run_id, _ = run_serial(db_url, SocrataSource(server.url), hpd)
        by_run = evaluate_run(conn, run_id)
        by_clock = evaluate_time_based(conn)
        Outbox(db_url, channels).drain()

        wait_for(lambda: len(recorder.envelopes) == 1 and len(receiver.requests) == 3, timeout_s=10)
        message = email.message_from_bytes(recorder.envelopes[0].content)
        assert "New HPD Class C violation" in message["Subject"]
        events = {}
        for request in receiver.requests:
            verify_signature(SECRET, request.headers[SIGNATURE_HEADER.lower()], request.body)
            body = json.loads(request.body)
            events[body["event_type"]] = body["trigger_key"]
        assert events == {
            "violation.new": "violation:HPD:99000001:new",
            "violation.closed": f"violation:HPD:{open_row['violationid']}:closed:{today.isoformat()}",
            "deadline.certify_by": f"deadline:HPD:99000001:certify_by:{(today + timedelta(days=3)).isoformat()}",
        }
        assert (by_run.alerts_created, by_clock.alerts_created) == (2, 1)

        # Nothing changed at the source: the next run, its evaluation and a drain send nothing more.
        quiet_run, _ = run_serial(db_url, SocrataSource(server.url), hpd)
        assert evaluate_run(conn, quiet_run).alerts_created == 0
        assert evaluate_run(conn, run_id).alerts_created == 0
        assert evaluate_time_based(conn).alerts_created == 0
        assert Outbox(db_url, channels).drain(datetime.now(UTC) + timedelta(days=2)).claimed == 0
        assert (len(recorder.envelopes), len(receiver.requests)) == (1, 3)
