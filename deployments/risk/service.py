"""Online scoring: load the active model, score buildings, store the scores (PostgreSQL + Redis).

`ScoreService` is Ray-free: the RiskScorer deployment wraps it, and the plain-uvicorn app runs it in-process.
Scores are written with `computed_at` = the transaction's start (PostgreSQL `now()`), before the features are
read, so data that lands while a score is computed makes that score stale rather than silently missing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from deployments.api.responses import dumps
from deployments.risk.models import LoadedModels, ModelLoader, active_fingerprint, load_active_models
from deployments.risk.store import ScoreStore, StoredScore

log = logging.getLogger(__name__)

TREND_POINTS = 5  # a move of at least this many overall points between scores is a trend

_PREVIOUS = """
    SELECT DISTINCT ON (bbl) bbl, overall FROM risk_scores
    WHERE bbl = ANY(%s::bpchar[]) AND as_of < %s ORDER BY bbl, as_of DESC
"""
_UPSERT = f"""
    INSERT INTO risk_scores (bbl, as_of, overall, safety, legal, financial, p_overall, p_safety, p_legal,
                             p_financial, trend, reasons, model_versions, scorers, computed_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
    ON CONFLICT (bbl, as_of) DO UPDATE SET
        overall = EXCLUDED.overall, safety = EXCLUDED.safety, legal = EXCLUDED.legal,
        financial = EXCLUDED.financial, p_overall = EXCLUDED.p_overall, p_safety = EXCLUDED.p_safety,
        p_legal = EXCLUDED.p_legal, p_financial = EXCLUDED.p_financial, trend = EXCLUDED.trend,
        reasons = EXCLUDED.reasons, model_versions = EXCLUDED.model_versions, scorers = EXCLUDED.scorers,
        computed_at = now()
    RETURNING {StoredScore.COLUMNS}
"""  # noqa: S608 - a constant column list


class ModelUnavailableError(Exception):
    pass


def _jsonb(value: Any) -> Jsonb:
    return Jsonb(value, dumps=lambda v: dumps(v).decode())


def trend_of(out: Any, previous: int | None) -> str:
    """The model's own trend when it gives one (sentinel.risk.serving does), else from the previous score."""
    given = getattr(out, "trend", None)
    return given if given in ("up", "down", "flat") else _trend(int(out.scores["overall"]), previous)


def _trend(new: int, previous: int | None) -> str:
    if previous is None or abs(new - previous) < TREND_POINTS:
        return "flat"
    return "up" if new > previous else "down"


class ScoreService:
    def __init__(
        self,
        pool: ConnectionPool,
        store: ScoreStore,
        *,
        model_dir: Path,
        loader: ModelLoader = load_active_models,
        poll_seconds: float = 10.0,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pool, self.store, self.model_dir, self.loader = pool, store, model_dir, loader
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
            with self.pool.connection() as conn:
                if not force and active_fingerprint(conn) == self._loaded.fingerprint:
                    return False
                try:
                    loaded = self.loader(conn, self.model_dir)
                except Exception:
                    # The reason is shown to API callers (/readyz, risk 503s): the exception stays in the log.
                    log.exception("loading the active models failed")
                    reason = "the active model failed to load (the scorer's log says why)"
                    loaded = LoadedModels(None, reason, active_fingerprint(conn))
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

    def compute(self, bbls: Sequence[str]) -> list[StoredScore]:
        """Score `bbls` with the active model, store and cache the scores; ModelUnavailableError without a model."""
        self.reload()
        model = self._loaded.model
        if model is None:
            raise ModelUnavailableError(self._loaded.reason)
        if not bbls:
            return []
        as_of = self.today()
        versions = Jsonb(dict(model.versions))
        # A model without `scorers` (an older loader, a test double) is a trained model for every score.
        scorers = Jsonb(dict(getattr(model, "scorers", None) or dict.fromkeys(model.versions, "model")))
        with self.pool.connection() as conn, conn.transaction():
            previous = {row[0].strip(): row[1] for row in conn.execute(_PREVIOUS, (list(bbls), as_of))}
            outputs = model.score(conn, list(bbls), as_of)
            stored = []
            with conn.cursor() as cur:
                for out in outputs:
                    s, p = out.scores, out.probabilities
                    cur.execute(
                        _UPSERT,
                        (
                            out.bbl, as_of, s["overall"], s["safety"], s["legal"], s["financial"],
                            p["overall"], p["safety"], p["legal"], p["financial"],
                            trend_of(out, previous.get(out.bbl)), _jsonb(list(out.reasons)), versions, scorers,
                        ),
                    )  # fmt: skip
                    row = cur.fetchone()
                    assert row is not None
                    stored.append(StoredScore.from_row(row))
        self.store.remember(stored)
        return stored
