"""The contract between the API and the trained models, and the default loader.

A `RiskModel` scores buildings as of a date, reading whatever features it needs through the connection it is
given. The default loader serves only what the `models` table says is active for all four score kinds, built by
`sentinel.risk.serving.load_model(rows, model_dir)` (owned by the training work). Until that exists and a model
is active, there is no model: the risk endpoints answer 503 and never invent a score.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row

SCORE_KINDS = ("overall", "safety", "legal", "financial")


@dataclass(frozen=True, slots=True)
class ModelOutput:
    bbl: str
    scores: Mapping[str, int]  # score kind -> 0..100
    probabilities: Mapping[str, float]  # score kind -> 0..1
    reasons: Sequence[Mapping[str, Any]] = ()


class RiskModel(Protocol):
    versions: Mapping[str, str]  # score kind -> model version

    def score(self, conn: psycopg.Connection[Any], bbls: Sequence[str], as_of: date) -> list[ModelOutput]: ...


@dataclass(frozen=True, slots=True)
class LoadedModels:
    model: RiskModel | None
    reason: str  # why there is no model (empty when there is one)
    fingerprint: tuple[Any, ...] = field(default=())  # changes when a model is promoted


ModelLoader = Callable[[psycopg.Connection[Any], Path], LoadedModels]

_ACTIVE = """
    SELECT score_kind, version, artifact_path, params, metrics, promoted_at
    FROM models WHERE is_active ORDER BY score_kind
"""


def active_fingerprint(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
    rows = conn.execute("SELECT score_kind, version, promoted_at FROM models WHERE is_active ORDER BY 1").fetchall()
    return tuple(tuple(row) for row in rows)


def load_active_models(conn: psycopg.Connection[Any], model_dir: Path) -> LoadedModels:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_ACTIVE).fetchall()
    fingerprint = tuple((r["score_kind"], r["version"], r["promoted_at"]) for r in rows)
    missing = [kind for kind in SCORE_KINDS if kind not in {r["score_kind"] for r in rows}]
    if missing:
        return LoadedModels(None, f"no active risk model yet (none promoted for: {', '.join(missing)})", fingerprint)
    try:
        serving = importlib.import_module("sentinel.risk.serving")
    except ImportError:
        versions = ", ".join(f"{r['score_kind']}={r['version']}" for r in rows)
        return LoadedModels(None, f"models are active ({versions}) but this build cannot load them", fingerprint)
    return LoadedModels(serving.load_model(rows, model_dir), "", fingerprint)


def import_loader(path: str) -> ModelLoader:
    """A loader from "module:attribute" (how the Serve config names a non-default loader)."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)
