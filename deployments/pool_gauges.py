"""Reports a replica's connection pool to its metrics every few seconds from a daemon thread: the figures that
matter most (requests waiting, no idle connection) arise exactly when no request finishes to report them."""

from __future__ import annotations

import logging
import threading

from psycopg_pool import ConnectionPool

from deployments.metrics import Metrics

log = logging.getLogger(__name__)


class PoolReporter:
    def __init__(self, pool: ConnectionPool, metrics: Metrics, name: str, every_seconds: float = 5.0) -> None:
        self._pool, self._metrics, self._name, self._every = pool, metrics, name, every_seconds
        self._stop = threading.Event()
        self.report()
        self._thread = threading.Thread(target=self._run, name=f"pool-gauges-{name}", daemon=True)
        self._thread.start()

    def report(self) -> None:
        self._metrics.pool(self._name, self._pool.get_stats())

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self.report()
            except Exception:  # a metrics hiccup must never end the reporting
                log.exception("could not report the %s pool's figures", self._name)

    def close(self) -> None:
        self._stop.set()
