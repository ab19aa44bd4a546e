"""Fault: the Notifier Ray actor's worker process is killed (SIGKILL) while a webhook request is in flight.

Guarantee: a delivery confirmed before the crash is never sent again, and nothing is lost: the restarted actor
(max_restarts=-1) takes the dead worker's claimed rows over once their lease ends and delivers every one. The
request in flight at the moment of the kill may arrive twice (its answer was lost with the process); it carries
the same event id both times so the receiver can deduplicate.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import ray
from pydantic import SecretStr
from ray.exceptions import RayActorError

from actors.alerts import Notifier
from sentinel.alerts.engine import evaluate_run
from sentinel.alerts.outbox import OutboxPolicy
from sentinel.channels import ChannelSettings, WebhookSettings
from tests.alerts import seed
from tests.alerts.seed import WATCHED
from tests.channels.receivers import LOCAL_RECEIVERS, HttpReceiver, wait_for

ALERTS = 6
POLICY = OutboxPolicy(max_attempts=5, base_backoff=timedelta(seconds=1), lease=timedelta(seconds=3))


def _statuses(conn: psycopg.Connection) -> list[str]:
    return [n["status"] for n in seed.notifications(conn)]


def _drain_until_all_sent(notifier: ray.actor.ActorHandle, conn: psycopg.Connection, timeout_s: float) -> None:
    """Drive the restarted actor as the scheduler's notify job would: drain, again, until the outbox is done."""
    deadline = time.monotonic() + timeout_s
    while set(_statuses(conn)) != {"sent"}:
        if time.monotonic() > deadline:
            raise AssertionError(f"outbox not delivered before the deadline: {_statuses(conn)}")
        with contextlib.suppress(RayActorError):  # still restarting
            ray.get(notifier.drain_once.remote(), timeout=60)
        time.sleep(0.2)  # the dead worker's lease (3 s) has to run out; this is a poll interval, not a sync


@pytest.mark.integration
def test_killing_the_notifier_mid_delivery_repeats_no_confirmed_delivery_and_loses_nothing(
    ray_cluster: object, conn: psycopg.Connection, db_url: str, receiver: HttpReceiver
) -> None:
    now = datetime.now(UTC)
    org_id = seed.org(conn)
    seed.portfolio(conn, org_id, [WATCHED])
    seed.rule(conn, org_id, {"type": "new_violation"}, [{"kind": "webhook", "target": receiver.url}])
    run_id = seed.run(conn, now - timedelta(minutes=2))
    for i in range(ALERTS):
        seed.violation(conn, f"k{i}", WATCHED, run_id, now - timedelta(minutes=1))
    assert evaluate_run(conn, run_id, now).notifications == ALERTS
    receiver.hold_from = 2  # the third request is received and never answered
    channels = ChannelSettings(
        enabled=frozenset({"webhook"}),
        webhook=WebhookSettings(signing_secret=SecretStr("s"), timeout_s=60),
        outbound=LOCAL_RECEIVERS,
    )
    notifier = Notifier.remote(db_url, channels, POLICY)
    try:
        pid = ray.get(notifier.__ray_call__.remote(lambda self: os.getpid()), timeout=60)
        assert ray.get(notifier.start.remote(0.05), timeout=60)
        wait_for(lambda: len(receiver.requests) == 3, timeout_s=60)

        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not _alive(pid), timeout_s=30)
        receiver.release.set()  # its answer now goes to a dead socket

        # The kill really was mid-batch: two deliveries confirmed, the rest claimed by the dead worker.
        at_kill = _statuses(conn)
        assert at_kill == ["sent", "sent"] + ["sending"] * (ALERTS - 2)
        confirmed = [f"alert_{n['alert_id']}" for n in seed.notifications(conn) if n["status"] == "sent"]

        _drain_until_all_sent(notifier, conn, timeout_s=120)
        assert ray.get(notifier.__ray_call__.remote(lambda self: os.getpid()), timeout=60) != pid
        assert ray.get(notifier.drain_once.remote(), timeout=60)["claimed"] == 0  # a later drain sends nothing
    finally:
        receiver.release.set()
        ray.kill(notifier, no_restart=True)

    received = Counter(json.loads(r.body)["id"] for r in receiver.requests)
    expected = {f"alert_{n['alert_id']}" for n in seed.notifications(conn)}
    assert set(received) == expected  # nothing lost
    assert all(received[event_id] == 1 for event_id in confirmed)  # nothing confirmed is sent again
    in_flight = json.loads(receiver.requests[2].body)["id"]
    assert {event_id: count for event_id, count in received.items() if count > 1} == {in_flight: 2}
    assert _statuses(conn) == ["sent"] * ALERTS


def _alive(pid: int) -> bool:
    """False once the process is gone or a zombie (dead, not yet reaped by the raylet)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone before the open, or reaped between open and read
        return False
