"""A building's stored scores over time, oldest first: what the property page's score history draws."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row

_HISTORY = """
    SELECT as_of, overall, safety, legal, financial, trend, computed_at FROM (
        SELECT as_of, overall, safety, legal, financial, trend, computed_at FROM risk_scores
        WHERE bbl = %s ORDER BY as_of DESC LIMIT %s) recent
    ORDER BY as_of
"""


def score_history(conn: Any, bbl: str, limit: int = 120) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_HISTORY, (bbl, limit)).fetchall()
