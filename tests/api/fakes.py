"""A stand-in risk model for the API tests and the serving benchmark.

No trained model exists in these tests, and the API must not invent scores, so the tests hand the scorer this
explicit test double through the same loader hook a real deployment uses. Its scores are a pure function of a
building's open violations (so a test can predict them), tagged with the version "test-counting-1"; its trend
follows the product's rule (sentinel.risk.trend) on the score change alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from sentinel.risk.score import SCORE_KINDS, Score
from sentinel.risk.scoring import LoadedModels, active_fingerprint, previous_overall
from sentinel.risk.trend import trend

VERSION = "test-counting-1"


def expected_overall(open_violations: int) -> int:
    return min(100, 10 * open_violations)


def _reason(open_violations: int, contribution: int) -> dict[str, object]:
    text = f"{open_violations} open violations"
    return {"feature": "open_violations", "text": text, "value": open_violations, "contribution": contribution}


class CountingModel:
    versions = dict.fromkeys(SCORE_KINDS, VERSION)
    scorers = dict.fromkeys(SCORE_KINDS, "model")

    def score(self, conn: psycopg.Connection[Any], bbls: Sequence[str], as_of: date) -> list[Score]:
        counts = dict(
            conn.execute(
                "SELECT b.bbl, (SELECT count(*) FROM violations v WHERE v.bbl = b.bbl AND v.status = 'open') "
                "FROM unnest(%s::bpchar[]) AS b(bbl)",
                (list(bbls),),
            ).fetchall()
        )
        previous = previous_overall(conn, bbls, as_of)
        out = []
        for bbl in bbls:
            n = int(counts.get(bbl, 0))
            overall = expected_overall(n)
            scores = {"overall": overall, "safety": overall, "legal": overall // 2, "financial": overall // 4}
            out.append(
                Score(
                    bbl=bbl,
                    as_of=as_of,
                    **scores,
                    trend=trend(previous.get(bbl), overall, recent_90=0, prior_year=0),
                    reasons=[_reason(n, overall)],
                    model_versions=dict(self.versions),
                    probabilities={k: v / 100 for k, v in scores.items()},
                    scorers=dict(self.scorers),
                )
            )
        return out


def load_counting_model(conn: psycopg.Connection[Any], model_dir: Path) -> LoadedModels:
    return LoadedModels(CountingModel(), "", ("counting", VERSION))


def load_no_model(conn: psycopg.Connection[Any], model_dir: Path) -> LoadedModels:
    return LoadedModels(None, "no active risk model yet (test: none promoted)", ("none",))


def load_counting_model_once_promoted(conn: psycopg.Connection[Any], model_dir: Path) -> LoadedModels:
    """The counting model, but only once the models table has an active row for every score (a promotion)."""
    fingerprint = active_fingerprint(conn)
    if len(fingerprint) < len(SCORE_KINDS):
        return LoadedModels(None, "no active risk model yet (test: none promoted)", fingerprint)
    return LoadedModels(CountingModel(), "", fingerprint)


def load_failing_model(conn: psycopg.Connection[Any], model_dir: Path) -> LoadedModels:
    raise RuntimeError("cannot read /srv/secret-models/overall.ubj (token=s3cr3t-in-the-path)")
