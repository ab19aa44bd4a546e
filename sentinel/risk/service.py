"""The score service: the active model, reloaded when a promotion changes it, scoring and storing buildings.

One path for every caller: the RiskScorer deployment and the plain-uvicorn app (`compute`, a few buildings per
request), the batch job and `vsentinel score` (`score_all`), and the scheduler (`rescore_changed`). Ray-free:
the deployment wraps it. Connections come from `connect` (a pool's `connection`, or `psycopg.connect` bound to a
URL); stored scores go to `remember` (the API's Redis cache) after their transaction commits.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import psycopg

from sentinel import artifact_store
from sentinel.risk import scoring
from sentinel.risk.features import LotRange
from sentinel.risk.score import Score
from sentinel.risk.scoring import ActiveModels, LoadedModels, ModelLoader, RiskModel

log = logging.getLogger(__name__)

Connect = Callable[[], AbstractContextManager[psycopg.Connection[Any]]]

RESCORE_CHUNK = 5000  # buildings scored and committed together by `rescore_changed`
# Ranges of lots `score_all` cuts the city into, per worker: more than one, so that one range's feature query runs
# while another's lots are scored; few, as a range's query may scan the records' tables whole to find its lots'
# (and reads status_history whole).
SCORE_PARTS_PER_WORKER = 2


class ModelUnavailableError(Exception):
    pass


def connect_to(database_url: str) -> Connect:
    """A `connect` for callers without a pool (the batch job, the scheduler)."""
    return functools.partial(psycopg.connect, database_url)


class ScoreService:
    def __init__(
        self,
        connect: Connect,
        *,
        model_dir: scoring.Artifacts,
        loader: ModelLoader = scoring.load_active_models,
        poll_seconds: float = 10.0,
        remember: Callable[[Sequence[Score]], None] = lambda scores: None,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.connect, self.loader, self.remember = connect, loader, remember
        self.model_dir = artifact_store.as_store(model_dir)  # the artifact store (a directory: a local one)
        self.poll_seconds, self.today, self.monotonic = poll_seconds, today, monotonic
        self._lock = threading.Lock()
        self._loaded = LoadedModels(None, "models not loaded yet")
        self._checked_at: float | None = None
        self.reload(force=True)

    @property
    def loaded(self) -> LoadedModels:
        return self._loaded

    def reload(self, force: bool = False) -> bool:
        """Reload when the active models changed (or when forced); True when a reload happened."""
        with self._lock:
            now = self.monotonic()
            if not force and self._checked_at is not None and now - self._checked_at < self.poll_seconds:
                return False
            self._checked_at = now
            with self.connect() as conn:
                if not force and scoring.active_fingerprint(conn) == self._loaded.fingerprint:
                    return False
                try:
                    loaded = self.loader(conn, self.model_dir)
                except Exception:
                    # The reason is shown to API callers (/readyz, risk 503s): the exception stays in the log.
                    log.exception("loading the active models failed")
                    conn.rollback()
                    reason = "the active model failed to load (the scorer's log says why)"
                    loaded = LoadedModels(None, reason, scoring.active_fingerprint(conn))
            changed = loaded.fingerprint != self._loaded.fingerprint or force
            self._loaded = loaded
            if loaded.model is not None:
                log.info("risk models loaded: %s", dict(loaded.model.versions))
            else:
                log.warning("no risk model: %s", loaded.reason)
            return changed

    def status(self) -> dict[str, Any]:
        """Readiness as of the models table now (a promotion is picked up here too, within poll_seconds)."""
        self.reload()
        model = self._loaded.model
        return {
            "ready": model is not None,
            "model_versions": dict(model.versions) if model is not None else None,
            "reason": self._loaded.reason or None,
        }

    def model(self) -> RiskModel:
        """The active model; ModelUnavailableError with the reason when there is none."""
        self.reload()
        model = self._loaded.model
        if model is None:
            raise ModelUnavailableError(self._loaded.reason)
        return model

    def compute(self, bbls: Sequence[str]) -> list[Score]:
        """Score `bbls` (unknown buildings get no score) and store the scores, in one transaction."""
        model = self.model()
        if not bbls:
            return []
        as_of = self.today()
        with self.connect() as conn, conn.transaction():
            scores = model.score(conn, list(bbls), as_of)
            computed_at = scoring.write_scores(conn, scores)
        stored = [replace(s, computed_at=computed_at) for s in scores]
        self.remember(stored)
        return stored

    def score_all(
        self,
        as_of: date | None = None,
        progress: Callable[[int, int], None] | None = None,
        workers: int = 1,
        parts: int | None = None,
    ) -> int:
        """Every building with the trained models, as of `as_of` (default today); returns how many were scored.

        Today's scores of every building hold the records of every run that had ended before they were read, so
        they move the rescore mark past those runs: the next `rescore_changed` reads the runs after them, not every
        record of the city grouped by lot (which it does while no mark exists).

        With `workers` above one the city is cut into `parts` ranges of lots (`scoring.lot_ranges`; by default
        SCORE_PARTS_PER_WORKER a worker), scored `workers` at once, each in its own thread and connection
        (VS_SCORE_WORKERS). PostgreSQL runs a cursor's query in one backend, never in parallel, and one query for
        the city left the machine's other core mostly idle while it ran, then the scoring ran alone after it
        (benchmarks/RESULTS.md, "The whole city's week"). With more ranges than workers, one range's feature query
        runs while another's rows are scored. One worker reads the city through one query, as before. `progress`
        gets the sums over the ranges: the total grows as each range's query has counted its lots. A range that
        fails stops the others."""
        model = self.model()
        if not isinstance(model, ActiveModels):
            raise ModelUnavailableError(f"scoring every building needs the trained models, not {type(model).__name__}")
        if parts is None:
            parts = workers * SCORE_PARTS_PER_WORKER if workers > 1 else 1
        through = None
        with self.connect() as conn:
            if as_of is None:
                through = scoring.ended_through(conn)  # read before the features are: they see at least these runs
            ranges = scoring.lot_ranges(conn, parts)
        day = as_of or self.today()
        in_flight = _InFlight(progress, len(ranges))

        def score_range(lots: LotRange, report: Callable[[int, int], None]) -> int:
            with self.connect() as conn, in_flight.running(conn):
                return scoring.score_all(conn, model, day, progress=report, lots=lots)

        if workers <= 1:  # in this thread: Ctrl-C stops it where it is
            done = sum(score_range(lots, in_flight.report(i)) for i, lots in enumerate(ranges))
        else:
            with ThreadPoolExecutor(max_workers=min(workers, len(ranges)), thread_name_prefix="score-all") as pool:
                futures = [pool.submit(score_range, lots, in_flight.report(i)) for i, lots in enumerate(ranges)]
                try:
                    done = sum(future.result() for future in as_completed(futures))
                except BaseException:
                    # A range failed, or Ctrl-C: the others stop too, and no range starts (a failed scoring of
                    # every building is run again whole).
                    in_flight.stop()
                    pool.shutdown(cancel_futures=True)
                    raise
        if through is not None:
            with self.connect() as conn:
                scoring.mark_rescored(conn, through)
        return done

    def rescore_changed(self, workers: int = 1) -> int:
        """The buildings whose records changed after their latest score (or that have none), rescored. The mark
        moves only once all of them are stored: a rescore that fails part way is done again whole.

        `workers` chunks are scored at once, each in its own thread and connection (VS_RESCORE_WORKERS): a
        chunk's time is mostly its feature query, one PostgreSQL backend reading the lots' scattered records,
        so one chunk at a time leaves the database's other cores idle (benchmarks/RESULTS.md, "The whole city's
        week")."""
        with self.connect() as conn:
            changed = scoring.changed_since_scored(conn)
        bbls = changed.bbls
        chunks = [bbls[lo : lo + RESCORE_CHUNK] for lo in range(0, len(bbls), RESCORE_CHUNK)]
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(chunks))), thread_name_prefix="rescore") as pool:
            done = sum(len(scores) for scores in pool.map(self.compute, chunks))
        with self.connect() as conn:
            scoring.mark_rescored(conn, changed.through_run)
        return done


class _StoppedError(Exception):
    pass


class _InFlight:
    """Ranges of lots scored at once: their progress passed on summed, each range's (done, total) as its own
    `scoring.score_all` reports it, one report at a time; and a stop that ends them early: the statements they run
    are cancelled, and a range that was between statements stops at its next chunk."""

    def __init__(self, progress: Callable[[int, int], None] | None, ranges: int) -> None:
        self._progress = progress
        self._lock = threading.Lock()
        self._done, self._total = [0] * ranges, [0] * ranges
        self._connections: set[psycopg.Connection[Any]] = set()
        self._stopped = False

    @contextlib.contextmanager
    def running(self, conn: psycopg.Connection[Any]) -> Iterator[None]:
        with self._lock:
            if self._stopped:
                raise _StoppedError
            self._connections.add(conn)
        try:
            yield
        finally:
            with self._lock:
                self._connections.discard(conn)

    def report(self, i: int) -> Callable[[int, int], None]:
        def report(done: int, total: int) -> None:
            with self._lock:
                if self._stopped:
                    raise _StoppedError
                self._done[i], self._total[i] = done, total
                if self._progress is not None:
                    self._progress(sum(self._done), sum(self._total))

        return report

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for conn in self._connections:
                conn.cancel_safe()
