"""Stored scores: Redis first, then the latest `risk_scores` row; and whether each is stale.

A stored score is stale when the building has data newer than the score (max updated_at of its violations and
complaints > computed_at). Freshness is checked against PostgreSQL on every read, with one indexed query for
the whole batch, so a cached score is never served as fresh after new data arrived; Redis saves the score row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from psycopg_pool import ConnectionPool

from deployments.cache import Cache
from deployments.metrics import Metrics, NullMetrics
from sentinel.risk.score import Score

_FRESHNESS = """
    SELECT b.bbl,
           EXISTS (SELECT 1 FROM properties p WHERE p.bbl = b.bbl)
             OR EXISTS (SELECT 1 FROM violations v WHERE v.bbl = b.bbl)
             OR EXISTS (SELECT 1 FROM complaints c WHERE c.bbl = b.bbl) AS known,
           GREATEST((SELECT max(v.updated_at) FROM violations v WHERE v.bbl = b.bbl),
                    (SELECT max(c.updated_at) FROM complaints c WHERE c.bbl = b.bbl)) AS newest
    FROM unnest(%s::bpchar[]) AS b(bbl)
"""

_LATEST = f"""
    SELECT DISTINCT ON (bbl) {Score.COLUMNS}
    FROM risk_scores WHERE bbl = ANY(%s::bpchar[])
    ORDER BY bbl, computed_at DESC
"""  # noqa: S608 - a constant column list


@dataclass(frozen=True, slots=True)
class ScoreRead:
    bbl: str
    known: bool  # the city data has this building at all
    score: Score | None
    stale: bool
    newest_data_at: datetime | None


class ScoreStore:
    def __init__(
        self,
        pool: ConnectionPool,
        cache: Cache,
        ttl_seconds: int,
        metrics: Metrics | None = None,
        prefix: str = "vs",
    ) -> None:
        self.pool, self.cache, self.ttl = pool, cache, ttl_seconds
        self.key_prefix = f"{prefix}:risk:v2:"  # v2: probabilities and scorers
        self.metrics = metrics or NullMetrics()

    def read(self, bbls: Sequence[str]) -> dict[str, ScoreRead]:
        cached = self.cache.mget([self.key_prefix + b for b in bbls])
        scores: dict[str, Score] = {}
        for bbl, raw in zip(bbls, cached, strict=True):
            self.metrics.cache("risk_score", raw is not None)
            if raw is not None:
                scores[bbl] = Score.from_cache(raw)
        misses = [b for b in bbls if b not in scores]
        with self.pool.connection() as conn:
            freshness = {row[0].strip(): (row[1], row[2]) for row in conn.execute(_FRESHNESS, (list(bbls),))}
            if misses:
                loaded = [Score.from_row(row) for row in conn.execute(_LATEST, (misses,))]  # type: ignore[arg-type]
                scores.update({s.bbl: s for s in loaded})
                self.cache.set_many({self.key_prefix + s.bbl: s.to_cache() for s in loaded}, self.ttl)
        out = {}
        for bbl in bbls:
            known, newest = freshness.get(bbl, (False, None))
            score = scores.get(bbl)
            stale = score is not None and newest is not None and newest > score.computed_at
            out[bbl] = ScoreRead(bbl, bool(known) or score is not None, score, stale, newest)
        return out

    def remember(self, scores: Sequence[Score]) -> None:
        self.cache.set_many({self.key_prefix + s.bbl: s.to_cache() for s in scores}, self.ttl)
