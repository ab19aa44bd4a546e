"""Rows as dicts of their column names: what the query modules hand the API's response models and the jobs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

Params = Sequence[Any] | Mapping[str, Any] | None


def all_dicts(conn: psycopg.Connection[Any], sql: str, params: Params = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()  # type: ignore[arg-type]  # the SQL is a constant of its caller


def one_dict(conn: psycopg.Connection[Any], sql: str, params: Params = None) -> dict[str, Any] | None:
    """The first row, or None when there is none."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchone()  # type: ignore[arg-type]  # the SQL is a constant of its caller
