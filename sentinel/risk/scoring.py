"""Scoring buildings with the active models: for the batch job and for the online scorer (Ray Serve).

No Ray here: `load_active_models` once per process (a Serve replica's constructor), then `score_buildings` per
request or `score_all` for the nightly batch. Features come from the same SQL as training, at a cutoff of the day
after `as_of` (so the records of `as_of` itself count).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from sentinel.risk import artifacts, dataset, registry
from sentinel.risk.reasons import top_reasons
from sentinel.risk.registry import SCORE_KINDS
from sentinel.risk.trend import trend


class NoActiveModelError(LookupError):
    pass


@dataclass
class ActiveModels:
    models: dict[str, artifacts.LoadedModel]

    @property
    def versions(self) -> dict[str, str]:
        return {kind: m.version for kind, m in self.models.items()}

    @property
    def scorers(self) -> dict[str, str]:
        """Per score kind, "model" or "baseline" (the calibrated weighted open count)."""
        return {kind: m.scorer for kind, m in self.models.items()}


@dataclass(frozen=True)
class ScoreRow:
    bbl: str
    as_of: date
    overall: int
    safety: int
    legal: int
    financial: int
    p_overall: float
    p_safety: float
    p_legal: float
    p_financial: float
    trend: str
    reasons: list[dict] = field(default_factory=list)
    model_versions: dict[str, str] = field(default_factory=dict)
    scorers: dict[str, str] = field(default_factory=dict)


def load_active_models(conn: psycopg.Connection, model_dir: Path | None = None) -> ActiveModels:
    """The active model of every score, read from the registry; `model_dir` re-roots relative artifact paths."""
    records = registry.active(conn)
    missing = [k for k in SCORE_KINDS if k not in records]
    if missing:
        raise NoActiveModelError(f"no active model for {', '.join(missing)}: train and promote one first")
    models = {}
    for kind, record in records.items():
        path = Path(record.artifact_path)
        if not path.is_absolute() and model_dir is not None:
            path = model_dir / path
        models[kind] = artifacts.load(path)
    return ActiveModels(models)


def _previous_overall(conn: psycopg.Connection, bbls: list[str], as_of: date) -> dict[str, int]:
    rows = conn.execute(
        """SELECT DISTINCT ON (bbl) bbl::text, overall FROM risk_scores
           WHERE bbl = ANY(%s::bpchar[]) AND as_of < %s ORDER BY bbl, as_of DESC""",
        (bbls, as_of),
    ).fetchall()
    return dict(rows)


def score_frame(models: ActiveModels, frame: pd.DataFrame, as_of: date, previous: dict[str, int]) -> list[ScoreRow]:
    """Scores, probabilities, trend and reasons for feature rows (one per building)."""
    if frame.empty:
        return []
    scores, probabilities = {}, {}
    for kind in SCORE_KINDS:
        model = models.models[kind]
        raw = model.raw(frame)
        scores[kind] = model.percentiles.score(raw)
        probabilities[kind] = model.calibrator(raw)
    overall = models.models["overall"]
    names, contributions, values = overall.explain(frame)
    recent = frame["v_all_90"].to_numpy() + frame["c_all_90"].to_numpy()
    prior = frame["v_all_prior_year"].to_numpy() + frame["c_all_prior_year"].to_numpy()
    versions, scorers = models.versions, models.scorers
    rows = []
    for i, bbl in enumerate(frame["bbl"].tolist()):
        current = int(scores["overall"][i])
        reasons = top_reasons(names, contributions[i], list(values[i]), typical=overall.typical)
        rows.append(
            ScoreRow(
                bbl=bbl,
                as_of=as_of,
                overall=current,
                safety=int(scores["safety"][i]),
                legal=int(scores["legal"][i]),
                financial=int(scores["financial"][i]),
                p_overall=float(probabilities["overall"][i]),
                p_safety=float(probabilities["safety"][i]),
                p_legal=float(probabilities["legal"][i]),
                p_financial=float(probabilities["financial"][i]),
                trend=trend(previous.get(bbl), current, float(recent[i]), float(prior[i])),
                reasons=[r.to_dict() for r in reasons],
                model_versions=versions,
                scorers=scorers,
            )
        )
    return rows


def score_buildings(
    conn: psycopg.Connection, models: ActiveModels, bbls: list[str], as_of: date | None = None
) -> list[ScoreRow]:
    """Online scoring of a few buildings (unknown BBLs get no row)."""
    as_of = as_of or date.today()
    frame = dataset.features_at(conn, as_of + timedelta(days=1), bbls=bbls)
    return score_frame(models, frame, as_of, _previous_overall(conn, list(frame["bbl"]), as_of))


_INSERT = """
INSERT INTO risk_scores (bbl, as_of, overall, safety, legal, financial, p_overall, p_safety, p_legal, p_financial,
                         trend, reasons, model_versions, scorers)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (bbl, as_of) DO UPDATE SET
  overall = EXCLUDED.overall, safety = EXCLUDED.safety, legal = EXCLUDED.legal, financial = EXCLUDED.financial,
  p_overall = EXCLUDED.p_overall, p_safety = EXCLUDED.p_safety, p_legal = EXCLUDED.p_legal,
  p_financial = EXCLUDED.p_financial, trend = EXCLUDED.trend, reasons = EXCLUDED.reasons,
  model_versions = EXCLUDED.model_versions, scorers = EXCLUDED.scorers, computed_at = now()
"""


def write_scores(conn: psycopg.Connection, rows: Iterable[ScoreRow]) -> int:
    """Upserts on (bbl, as_of): running the same day twice leaves one row per building."""
    params = [
        (
            r.bbl, r.as_of, r.overall, r.safety, r.legal, r.financial, r.p_overall, r.p_safety, r.p_legal,
            r.p_financial, r.trend, Jsonb(r.reasons), Jsonb(r.model_versions), Jsonb(r.scorers),
        )
        for r in rows
    ]  # fmt: skip
    with conn.cursor() as cur:
        cur.executemany(_INSERT, params)
    conn.commit()
    return len(params)


def score_all(
    conn: psycopg.Connection,
    models: ActiveModels,
    as_of: date | None = None,
    chunk: int = 20_000,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Every building: features at the day after `as_of`, all four scores, trend and reasons, upserted."""
    as_of = as_of or date.today()
    frame = dataset.features_at(conn, as_of + timedelta(days=1))
    total, done = len(frame), 0
    for lo in range(0, total, chunk):
        part = frame.iloc[lo : lo + chunk].reset_index(drop=True)
        previous = _previous_overall(conn, part["bbl"].tolist(), as_of)
        done += write_scores(conn, score_frame(models, part, as_of, previous))
        if progress:
            progress(done, total)
    return done
