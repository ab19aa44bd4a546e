"""Stored scores: Redis first, then the latest `risk_scores` row; and whether each is stale.

A stored score is stale when the building has data newer than the score (max updated_at of its violations and
complaints > computed_at). Freshness is checked against PostgreSQL on every read, with one indexed query for
the whole batch, so a cached score is never served as fresh after new data arrived; Redis saves the score row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar

import orjson
from psycopg_pool import ConnectionPool

from deployments.api.cache import Cache
from deployments.api.metrics import Metrics, NullMetrics

_FRESHNESS = """
    SELECT b.bbl,
           EXISTS (SELECT 1 FROM properties p WHERE p.bbl = b.bbl)
             OR EXISTS (SELECT 1 FROM violations v WHERE v.bbl = b.bbl)
             OR EXISTS (SELECT 1 FROM complaints c WHERE c.bbl = b.bbl) AS known,
           GREATEST((SELECT max(v.updated_at) FROM violations v WHERE v.bbl = b.bbl),
                    (SELECT max(c.updated_at) FROM complaints c WHERE c.bbl = b.bbl)) AS newest
    FROM unnest(%s::bpchar[]) AS b(bbl)
"""

KINDS = ("overall", "safety", "legal", "financial")


@dataclass(frozen=True, slots=True)
class StoredScore:
    bbl: str
    as_of: date
    overall: int
    safety: int
    legal: int
    financial: int
    trend: str
    reasons: list[Any]
    model_versions: dict[str, str]
    computed_at: datetime
    probabilities: dict[str, float]  # calibrated probability of a new event of that kind within 12 months
    scorers: dict[str, str]  # "model" or "baseline" (the calibrated weighted open count) per score kind

    # The `risk_scores` columns `from_row` reads, in its order.
    COLUMNS: ClassVar[str] = (
        "bbl, as_of, overall, safety, legal, financial, trend, reasons, model_versions, computed_at, "
        "p_overall, p_safety, p_legal, p_financial, scorers"
    )

    def to_cache(self) -> bytes:
        return orjson.dumps(
            {
                "bbl": self.bbl,
                "as_of": self.as_of.isoformat(),
                "overall": self.overall,
                "safety": self.safety,
                "legal": self.legal,
                "financial": self.financial,
                "trend": self.trend,
                "reasons": self.reasons,
                "model_versions": self.model_versions,
                "computed_at": self.computed_at.isoformat(),
                "probabilities": self.probabilities,
                "scorers": self.scorers,
            }
        )

    @classmethod
    def from_cache(cls, raw: bytes) -> StoredScore:
        data = orjson.loads(raw)
        data["as_of"] = date.fromisoformat(data["as_of"])
        data["computed_at"] = datetime.fromisoformat(data["computed_at"])
        return cls(**data)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> StoredScore:
        bbl, as_of, overall, safety, legal, financial, trend, reasons, versions, computed_at = row[:10]
        probabilities = dict(zip(KINDS, (float(p) for p in row[10:14]), strict=True))
        # Scores stored before scorers were recorded all came from trained models.
        scorers = {kind: (row[14] or {}).get(kind, "model") for kind in versions}
        return cls(
            bbl.strip(), as_of, overall, safety, legal, financial, trend, reasons, versions, computed_at,
            probabilities, scorers,
        )  # fmt: skip


_LATEST = f"""
    SELECT DISTINCT ON (bbl) {StoredScore.COLUMNS}
    FROM risk_scores WHERE bbl = ANY(%s::bpchar[])
    ORDER BY bbl, computed_at DESC
"""  # noqa: S608 - a constant column list


@dataclass(frozen=True, slots=True)
class ScoreRead:
    bbl: str
    known: bool  # the city data has this building at all
    score: StoredScore | None
    stale: bool
    newest_data_at: datetime | None

    def view(self) -> dict[str, Any]:
        s = self.score
        assert s is not None
        return {
            "bbl": self.bbl,
            "scores": {"overall": s.overall, "safety": s.safety, "legal": s.legal, "financial": s.financial},
            "probabilities": s.probabilities,
            "scorers": {k: {"scorer": s.scorers.get(k, "model"), "version": v} for k, v in s.model_versions.items()},
            "trend": s.trend,
            "reasons": s.reasons,
            "model_version": s.model_versions,
            "as_of": s.as_of,
            "computed_at": s.computed_at,
            "stale": self.stale,
            "newest_data_at": self.newest_data_at,
        }


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
        scores: dict[str, StoredScore] = {}
        for bbl, raw in zip(bbls, cached, strict=True):
            self.metrics.cache("risk_score", raw is not None)
            if raw is not None:
                scores[bbl] = StoredScore.from_cache(raw)
        misses = [b for b in bbls if b not in scores]
        with self.pool.connection() as conn:
            freshness = {row[0].strip(): (row[1], row[2]) for row in conn.execute(_FRESHNESS, (list(bbls),))}
            if misses:
                loaded = [StoredScore.from_row(row) for row in conn.execute(_LATEST, (misses,))]  # type: ignore[arg-type]
                scores.update({s.bbl: s for s in loaded})
                self.cache.set_many({self.key_prefix + s.bbl: s.to_cache() for s in loaded}, self.ttl)
        out = {}
        for bbl in bbls:
            known, newest = freshness.get(bbl, (False, None))
            score = scores.get(bbl)
            stale = score is not None and newest is not None and newest > score.computed_at
            out[bbl] = ScoreRead(bbl, bool(known) or score is not None, score, stale, newest)
        return out

    def remember(self, scores: Sequence[StoredScore]) -> None:
        self.cache.set_many({self.key_prefix + s.bbl: s.to_cache() for s in scores}, self.ttl)
