"""Scoring buildings with the active models: one path for the batch job, the scheduler and the online scorer.

No Ray here: `load_active_models` once per process (or when a promotion changes the active rows), then
`score_buildings` for a few buildings or `score_all` for every building, and `write_scores` to store them.
Features come from the same SQL as training, at a cutoff of the day after `as_of` (so the records of `as_of`
itself count). `sentinel.risk.service.ScoreService` puts these together for its callers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson
import psycopg
from psycopg.types.json import Jsonb

from sentinel import artifact_store
from sentinel.risk import registry
from sentinel.risk.features import EVERY_LOT, LotRange
from sentinel.risk.reasons import top_reasons
from sentinel.risk.score import SCORE_KINDS, Score
from sentinel.risk.trend import TREND_DAYS, trend

# pandas and xgboost (through sentinel.risk.artifacts and .dataset) are imported where a model is loaded or features
# are read: a process that imports the API or the score service without scoring (the CLI, the test collection)
# does not pay for them.
if TYPE_CHECKING:
    import pandas as pd

    from sentinel.risk.artifacts import LoadedModel


class NoActiveModelError(LookupError):
    pass


class RiskModel(Protocol):
    """What scores buildings: the trained models (`ActiveModels`), or a test double handed in through a loader."""

    @property
    def versions(self) -> Mapping[str, str]: ...  # score kind -> model version

    @property
    def scorers(self) -> Mapping[str, str]: ...  # score kind -> "model" | "baseline"

    def score(self, conn: psycopg.Connection[Any], bbls: Sequence[str], as_of: date) -> list[Score]: ...


@dataclass
class ActiveModels:
    models: dict[str, LoadedModel]

    @property
    def versions(self) -> dict[str, str]:
        return {kind: m.version for kind, m in self.models.items()}

    @property
    def scorers(self) -> dict[str, str]:
        """Per score kind, "model" or "baseline" (the calibrated weighted open count)."""
        return {kind: m.scorer for kind, m in self.models.items()}

    def score(self, conn: psycopg.Connection[Any], bbls: Sequence[str], as_of: date) -> list[Score]:
        return score_buildings(conn, self, list(bbls), as_of)


@dataclass(frozen=True, slots=True)
class LoadedModels:
    model: RiskModel | None
    reason: str  # why there is no model (empty when there is one)
    fingerprint: tuple[Any, ...] = field(default=())  # changes when a model is promoted


# Where the artifacts are: the artifact store, or a model directory (taken as a local store).
Artifacts = artifact_store.ArtifactStore | Path | str | None
ModelLoader = Callable[[psycopg.Connection[Any], Artifacts], LoadedModels]


def active_fingerprint(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
    rows = conn.execute("SELECT score_kind, version, promoted_at FROM models WHERE is_active ORDER BY 1").fetchall()
    return tuple(tuple(row) for row in rows)


def load_active_models(conn: psycopg.Connection[Any], model_dir: Artifacts = None) -> LoadedModels:
    """The active model of every score from the registry, fetched from the artifact store (`model_dir`: a store, or
    a directory taken as a local one, which also re-roots the relative paths of rows older than migration 0021), or
    the reason there is none."""
    store = artifact_store.as_store(model_dir)
    fingerprint = active_fingerprint(conn)
    records = registry.active(conn)
    missing = [kind for kind in SCORE_KINDS if kind not in records]
    if missing:
        return LoadedModels(None, f"no active risk model yet (none promoted for: {', '.join(missing)})", fingerprint)
    from sentinel.risk import artifacts

    models = {}
    for kind, record in records.items():
        path = artifact_store.fetch(record.artifact_uri, store)
        models[kind] = artifacts.load(path)
    return LoadedModels(ActiveModels(models), "", fingerprint)


def require_active_models(conn: psycopg.Connection[Any], model_dir: Artifacts = None) -> ActiveModels:
    """The trained models, or NoActiveModelError saying which score has none."""
    loaded = load_active_models(conn, model_dir)
    if not isinstance(loaded.model, ActiveModels):
        raise NoActiveModelError(f"{loaded.reason}: train and promote one first")
    return loaded.model


# One index probe per building (UNIQUE (bbl, as_of)): the score of the latest day at least TREND_DAYS back, else the
# building's first score (a building scored for less than that compares with where it started).
_PREVIOUS = """
    SELECT b.bbl::text, coalesce(
        (SELECT r.overall FROM risk_scores r WHERE r.bbl = b.bbl AND r.as_of <= %(back)s
         ORDER BY r.as_of DESC LIMIT 1),
        (SELECT r.overall FROM risk_scores r WHERE r.bbl = b.bbl AND r.as_of < %(as_of)s
         ORDER BY r.as_of LIMIT 1)) AS overall
    FROM unnest(%(bbls)s::bpchar[]) AS b(bbl)
"""


def previous_overall(conn: psycopg.Connection[Any], bbls: Sequence[str], as_of: date) -> dict[str, int]:
    """Each building's overall score to compare against (`_PREVIOUS`); buildings never scored before are absent."""
    params = {"bbls": list(bbls), "as_of": as_of, "back": as_of - timedelta(days=TREND_DAYS)}
    return {bbl: overall for bbl, overall in conn.execute(_PREVIOUS, params).fetchall() if overall is not None}


def score_frame(models: ActiveModels, frame: pd.DataFrame, as_of: date, previous: Mapping[str, int]) -> list[Score]:
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
            Score(
                bbl=bbl,
                as_of=as_of,
                overall=current,
                safety=int(scores["safety"][i]),
                legal=int(scores["legal"][i]),
                financial=int(scores["financial"][i]),
                trend=trend(previous.get(bbl), current, float(recent[i]), float(prior[i])),
                reasons=[r.to_dict() for r in reasons],
                model_versions=versions,
                probabilities={kind: float(probabilities[kind][i]) for kind in SCORE_KINDS},
                scorers=scorers,
            )
        )
    return rows


def score_buildings(
    conn: psycopg.Connection[Any], models: ActiveModels, bbls: list[str], as_of: date | None = None
) -> list[Score]:
    """A few buildings (unknown BBLs get no score); not stored."""
    from sentinel.risk import dataset

    as_of = as_of or date.today()
    frame = dataset.features_at(conn, as_of + timedelta(days=1), bbls=bbls)
    return score_frame(models, frame, as_of, previous_overall(conn, list(frame["bbl"]), as_of))


_UPSERT = """
INSERT INTO risk_scores (bbl, as_of, overall, safety, legal, financial, p_overall, p_safety, p_legal, p_financial,
                         trend, reasons, model_versions, scorers, computed_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (bbl, as_of) DO UPDATE SET
  overall = EXCLUDED.overall, safety = EXCLUDED.safety, legal = EXCLUDED.legal, financial = EXCLUDED.financial,
  p_overall = EXCLUDED.p_overall, p_safety = EXCLUDED.p_safety, p_legal = EXCLUDED.p_legal,
  p_financial = EXCLUDED.p_financial, trend = EXCLUDED.trend, reasons = EXCLUDED.reasons,
  model_versions = EXCLUDED.model_versions, scorers = EXCLUDED.scorers, computed_at = now()
"""


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _jsonb(value: Any) -> Jsonb:
    return Jsonb(value, dumps=_dumps)


def write_scores(conn: psycopg.Connection[Any], scores: Sequence[Score]) -> datetime:
    """Upserts on (bbl, as_of): scoring the same day twice leaves one row per building. Does not commit; returns
    the `computed_at` the rows got: the transaction's start (PostgreSQL `now()`), which came before the features
    were read, so data that lands while a score is computed makes that score stale rather than silently missing."""
    params = [
        (
            s.bbl, s.as_of, s.overall, s.safety, s.legal, s.financial, *(s.probabilities[k] for k in SCORE_KINDS),
            s.trend, _jsonb(s.reasons), _jsonb(s.model_versions), _jsonb(s.scorers),
        )
        for s in scores
    ]  # fmt: skip
    with conn.cursor() as cur:
        if params:
            cur.executemany(_UPSERT, params)
        row = cur.execute("SELECT now()").fetchone()
    assert row is not None
    return row[0]


# PLUTO's lots in bbl order split into `parts` groups (ntile: their sizes differ by one at most); the first lot of
# each group but the first is a cut between two ranges.
_CUTS = """
    SELECT min(bbl)::text FROM (SELECT bbl, ntile(%s) OVER (ORDER BY bbl) AS part FROM properties) p
    GROUP BY part ORDER BY part OFFSET 1
"""


def lot_ranges(conn: psycopg.Connection[Any], parts: int) -> list[LotRange]:
    """The bbl order cut into `parts` ranges holding as many of the city's lots (PLUTO's) each, to one lot.

    The cuts only balance the ranges: the first range is open below and the last above, so every lot any table
    names falls in exactly one, those that only violations or complaints name included. Fewer ranges when PLUTO has
    fewer lots than `parts` (one when it has none)."""
    if parts <= 1:
        return [EVERY_LOT]
    # Kept in the order PostgreSQL gave them, which the ranges' comparisons use (Python's sort could differ under
    # another collation).
    cuts = [row[0] for row in conn.execute(_CUTS, (parts,))]
    bounds = [None, *cuts, None]
    return [LotRange(lo, hi) for lo, hi in itertools.pairwise(bounds)]


def score_all(
    conn: psycopg.Connection[Any],
    models: ActiveModels,
    as_of: date | None = None,
    chunk: int = 20_000,
    progress: Callable[[int, int], None] | None = None,
    lots: LotRange = EVERY_LOT,
) -> int:
    """Every building (or those in `lots`, one part of the city): features at the day after `as_of`, all four
    scores, trend and reasons, upserted and committed one chunk at a time. The feature rows are read a chunk at a
    time too, so this process holds one chunk's, not the city's (benchmarks/RESULTS.md, "NYC at full size")."""
    from sentinel.risk import dataset

    as_of = as_of or date.today()
    done = 0
    with dataset.feature_chunks(conn, as_of + timedelta(days=1), chunk, lots) as (total, parts):
        for part in parts:
            scores = score_frame(models, part, as_of, previous_overall(conn, part["bbl"].tolist(), as_of))
            write_scores(conn, scores)
            conn.commit()
            done += len(scores)
            if progress:
                progress(done, total)
    conn.commit()  # the cursor's CLOSE opened a transaction
    return done


_CHANGED = """
    SELECT c.bbl::text FROM (
        SELECT bbl, max(updated_at) AS changed FROM violations WHERE bbl IS NOT NULL GROUP BY bbl
        UNION ALL SELECT bbl, max(updated_at) FROM complaints WHERE bbl IS NOT NULL GROUP BY bbl) c
    LEFT JOIN (SELECT bbl, max(computed_at) AS scored FROM risk_scores GROUP BY bbl) s USING (bbl)
    WHERE s.scored IS NULL OR c.changed > s.scored
    GROUP BY c.bbl ORDER BY c.bbl
"""

# The lots of the records written by runs after the mark, each kept when one of those records changed after the
# lot's latest score (or it has none). Records of runs up to the mark need no look: the rescores that moved the
# mark past them rescored their lots. What this reads grows with the records the runs wrote, not with the city.
_CHANGED_AFTER_RUN = """
    WITH written AS (
        SELECT bbl, max(updated_at) AS changed FROM (
            SELECT bbl, updated_at FROM violations WHERE last_run_id > %(mark)s AND bbl IS NOT NULL
            UNION ALL SELECT bbl, updated_at FROM complaints WHERE last_run_id > %(mark)s AND bbl IS NOT NULL) r
        GROUP BY bbl
    )
    SELECT w.bbl::text FROM written w
    WHERE coalesce(w.changed > (SELECT max(computed_at) FROM risk_scores s WHERE s.bbl = w.bbl), true)
    ORDER BY w.bbl
"""

# The runs whose records a rescore reading now sees whole: every run before the first one still running.
_ENDED_THROUGH = """
    SELECT coalesce((SELECT min(id) - 1 FROM ingestion_runs WHERE status = 'running'),
                    (SELECT max(id) FROM ingestion_runs), 0)
"""


@dataclass(frozen=True, slots=True)
class Changed:
    """Buildings to rescore, and the run through which their records were read (the next mark)."""

    bbls: list[str]
    through_run: int


def ended_through(conn: psycopg.Connection[Any]) -> int:
    """The runs whose records a read now sees whole: every run before the first one still running."""
    row = conn.execute(_ENDED_THROUGH).fetchone()
    assert row is not None
    return int(row[0])


def changed_since_scored(conn: psycopg.Connection[Any]) -> Changed:
    """Buildings whose violations or complaints changed after their latest score (or that have none). After the
    first call only the records of runs past `rescore_mark` are looked at: a record changes only by a run's writes
    (the writer, the locating of unplaced records and the tombstoning of deleted ones all set `last_run_id`).
    Read in one snapshot, so no run's records fall between the mark and the records read."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        through = ended_through(conn)
        mark = conn.execute("SELECT run_id FROM rescore_mark").fetchone()
        if mark is None:
            bbls = [row[0] for row in conn.execute(_CHANGED)]
        else:
            bbls = [row[0] for row in conn.execute(_CHANGED_AFTER_RUN, {"mark": mark[0]})]
    return Changed(bbls, int(through))


def mark_rescored(conn: psycopg.Connection[Any], through_run: int) -> None:
    """Records that the records of every run through `through_run` have been rescored (never moves back)."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO rescore_mark (run_id) VALUES (%s) ON CONFLICT (id) DO UPDATE"
            " SET run_id = greatest(rescore_mark.run_id, EXCLUDED.run_id), marked_at = now()",
            (through_run,),
        )
