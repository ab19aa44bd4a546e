"""The online scorer's view of the trained models (the contract in deployments/risk/models.py).

`load_model(rows, model_dir)` takes the active rows of the `models` table and returns an object with `versions` and
`score(conn, bbls, as_of)`, answering what `sentinel.risk.scoring.score_buildings` answers for the batch job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from sentinel.risk import artifacts, scoring


@dataclass(frozen=True, slots=True)
class Output:
    bbl: str
    scores: Mapping[str, int]
    probabilities: Mapping[str, float]
    reasons: Sequence[Mapping[str, Any]] = ()
    trend: str = "flat"


@dataclass
class ServingModel:
    models: scoring.ActiveModels
    versions: Mapping[str, str] = field(init=False)
    scorers: Mapping[str, str] = field(init=False)  # score kind -> "model" | "baseline"

    def __post_init__(self) -> None:
        self.versions = self.models.versions
        self.scorers = self.models.scorers

    def score(self, conn: psycopg.Connection, bbls: Sequence[str], as_of: date) -> list[Output]:
        rows = scoring.score_buildings(conn, self.models, list(bbls), as_of)
        return [
            Output(
                bbl=r.bbl,
                scores={"overall": r.overall, "safety": r.safety, "legal": r.legal, "financial": r.financial},
                probabilities={
                    "overall": r.p_overall,
                    "safety": r.p_safety,
                    "legal": r.p_legal,
                    "financial": r.p_financial,
                },
                reasons=r.reasons,
                trend=r.trend,
            )
            for r in rows
        ]


def load_model(rows: Sequence[Mapping[str, Any]], model_dir: Path) -> ServingModel:
    """`rows`: the active `models` rows (score_kind, version, artifact_path, ...), one per score kind."""
    loaded = {}
    for row in rows:
        path = Path(row["artifact_path"])
        if not path.is_absolute():
            path = model_dir / path
        loaded[row["score_kind"]] = artifacts.load(path)
    return ServingModel(scoring.ActiveModels(loaded))
