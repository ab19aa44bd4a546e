"""A building's risk score: the one type from the model through `risk_scores` and Redis to the API's answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar

import orjson

SCORE_KINDS = ("overall", "safety", "legal", "financial")


@dataclass(frozen=True, slots=True)
class Score:
    bbl: str
    as_of: date
    overall: int  # 0..100, a percentile among buildings
    safety: int
    legal: int
    financial: int
    trend: str  # "up", "down" or "flat" (sentinel.risk.trend)
    reasons: list[Any]  # what pushed the overall score up, largest first
    model_versions: dict[str, str]  # score kind -> model version
    probabilities: dict[str, float]  # calibrated probability of a new event of that kind within 12 months
    scorers: dict[str, str]  # "model" or "baseline" (the calibrated weighted open count) per score kind
    computed_at: datetime | None = None  # set when the score is stored: the storing transaction's start

    # The `risk_scores` columns `from_row` reads, in its order.
    COLUMNS: ClassVar[str] = (
        "bbl, as_of, overall, safety, legal, financial, trend, reasons, model_versions, computed_at, "
        "p_overall, p_safety, p_legal, p_financial, scorers"
    )

    @property
    def scores(self) -> dict[str, int]:
        return {"overall": self.overall, "safety": self.safety, "legal": self.legal, "financial": self.financial}

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Score:
        bbl, as_of, overall, safety, legal, financial, trend, reasons, versions, computed_at = row[:10]
        probabilities = dict(zip(SCORE_KINDS, (float(p) for p in row[10:14]), strict=True))
        # Scores stored before scorers were recorded all came from trained models.
        scorers = {kind: (row[14] or {}).get(kind, "model") for kind in versions}
        return cls(
            bbl.strip(), as_of, overall, safety, legal, financial, trend, reasons, versions, probabilities, scorers,
            computed_at,
        )  # fmt: skip

    def to_cache(self) -> bytes:
        assert self.computed_at is not None, "only a stored score is cached"
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
    def from_cache(cls, raw: bytes) -> Score:
        data = orjson.loads(raw)
        data["as_of"] = date.fromisoformat(data["as_of"])
        data["computed_at"] = datetime.fromisoformat(data["computed_at"])
        return cls(**data)
