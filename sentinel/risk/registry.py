"""Model registry: rows in `models` plus an artifact directory per version.

Layout under the artifact store (sentinel/artifact_store.py; rows hold the URI): `<version>/<score_kind>/model.ubj`
and `meta.json` (features, calibration, percentiles, parameters, metrics), and per version `evaluation.json`,
`report.md`, `curves.png`. A partial unique index keeps at most one active model per score; promotion swaps it in
one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from sentinel.risk.score import SCORE_KINDS  # noqa: F401 - callers name the scores through the registry


@dataclass(frozen=True, slots=True)
class ModelRecord:
    id: int
    score_kind: str
    version: str
    artifact_uri: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    trained_at: datetime
    is_active: bool
    promoted_at: datetime | None
    scorer: str = "model"  # "baseline": the calibrated weighted open count, served where no model beat it


class ModelNotFoundError(LookupError):
    pass


_COLUMNS = "id, score_kind, version, artifact_uri, params, metrics, trained_at, is_active, promoted_at, scorer"


def _json_safe(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))


def register(
    conn: psycopg.Connection,
    score_kind: str,
    version: str,
    artifact_uri: str,
    params: dict[str, Any],
    metrics: dict[str, Any],
    scorer: str = "model",
) -> ModelRecord:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"""INSERT INTO models (score_kind, version, artifact_uri, params, metrics, scorer)
                VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}""",  # noqa: S608 - constant column list
            (score_kind, version, artifact_uri, Jsonb(_json_safe(params)), Jsonb(_json_safe(metrics)), scorer),
        )
        row = cur.fetchone()
    conn.commit()
    return ModelRecord(**row)


def list_models(conn: psycopg.Connection, score_kind: str | None = None) -> list[ModelRecord]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM models WHERE %(kind)s::text IS NULL OR score_kind = %(kind)s "  # noqa: S608
            "ORDER BY trained_at DESC, score_kind",
            {"kind": score_kind},
        )
        return [ModelRecord(**row) for row in cur.fetchall()]


def get(conn: psycopg.Connection, score_kind: str, version: str) -> ModelRecord:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM models WHERE score_kind = %s AND version = %s",  # noqa: S608
            (score_kind, version),
        )
        row = cur.fetchone()
    if row is None:
        raise ModelNotFoundError(f"no {score_kind} model with version {version}")
    return ModelRecord(**row)


def active(conn: psycopg.Connection) -> dict[str, ModelRecord]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM models WHERE is_active")  # noqa: S608
        return {row["score_kind"]: ModelRecord(**row) for row in cur.fetchall()}


def promote(conn: psycopg.Connection, score_kind: str, version: str) -> ModelRecord:
    """Makes this version the active model of its score; the previous one is retired in the same transaction."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT id FROM models WHERE score_kind = %s AND version = %s FOR UPDATE", (score_kind, version))
        if cur.fetchone() is None:
            raise ModelNotFoundError(f"no {score_kind} model with version {version}")
        cur.execute("UPDATE models SET is_active = false WHERE score_kind = %s AND is_active", (score_kind,))
        cur.execute(
            f"""UPDATE models SET is_active = true, promoted_at = now()
                WHERE score_kind = %s AND version = %s RETURNING {_COLUMNS}""",  # noqa: S608
            (score_kind, version),
        )
        row = cur.fetchone()
    return ModelRecord(**row)
