"""Alerts on Ray: an evaluator that turns ingestion runs and the clock into alerts and outbox rows, and a notifier
that drains the outbox. Thin shells over sentinel.alerts.engine and sentinel.alerts.outbox (tested without Ray);
the actors own a database connection and the channels.

Who calls `evaluate_run`: the scheduler's ingestion job, as soon as the run returns its id (`vsentinel ingest`
evaluates its run in-process, through sentinel.alerts.engine, without this actor); `evaluate_scores`: the
scheduler's scoring jobs, once their scores are stored. Evaluating a run twice is
harmless, so a caller that is not sure whether the evaluation happened simply calls it again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import psycopg
import ray

from sentinel.alerts import engine
from sentinel.alerts.outbox import Outbox, OutboxPolicy
from sentinel.channels import ChannelSettings, build_channels
from sentinel.channels.org_secrets import org_secret_source

log = logging.getLogger(__name__)


class Evaluator:
    """The evaluator's state, without Ray: one connection, reopened when the server dropped it."""

    def __init__(self, database_url: str, expected_every: dict[str, timedelta] | None = None) -> None:
        self._url = database_url
        self._expected_every = expected_every
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self._url, autocommit=True)
        return self._conn

    def evaluate_run(self, run_id: int, now: datetime | None = None) -> dict[str, Any]:
        return asdict(engine.evaluate_run(self._connection(), run_id, now))

    def evaluate_time_based(self, now: datetime | None = None) -> dict[str, Any]:
        return asdict(engine.evaluate_time_based(self._connection(), now, self._expected_every))

    def evaluate_scores(self, now: datetime | None = None) -> dict[str, Any]:
        return asdict(engine.evaluate_scores(self._connection(), now))


@ray.remote(num_cpus=0.1, max_restarts=-1, max_task_retries=3)
class AlertEvaluator(Evaluator):
    """Retries are safe: an evaluation is one transaction and inserting an alert twice inserts nothing."""


class Drainer:
    """The notifier's state, without Ray: the outbox with its channels, and a stoppable drain loop."""

    def __init__(
        self,
        database_url: str,
        channel_settings: ChannelSettings | None = None,
        policy: OutboxPolicy | None = None,
    ) -> None:
        settings = channel_settings or ChannelSettings()
        self._outbox = Outbox(database_url, build_channels(settings, org_secret_source(database_url, settings)), policy)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def drain_once(self, now: datetime | None = None) -> dict[str, Any]:
        return asdict(self._outbox.drain(now))

    def start(self, interval_s: float = 5.0) -> bool:
        """Drain every `interval_s` seconds in a background thread until `stop()`."""
        if self._thread is not None and self._thread.is_alive():
            return False
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(interval_s,), name="notifier", daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self, interval_s: float) -> None:
        while not self._stop.is_set():
            try:
                self._outbox.drain()
            except Exception:  # a database hiccup must not end the loop; the rows wait in the outbox
                log.exception("outbox drain failed")
            self._stop.wait(interval_s)


@ray.remote(num_cpus=0.1, max_restarts=-1, max_concurrency=4)
class Notifier(Drainer):
    """A restarted notifier finds its predecessor's claimed rows again once their lease ends."""
