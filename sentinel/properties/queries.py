"""What a property page reads about one lot: its PLUTO attributes, buildings, open violations, deadlines, penalty
exposure, recent complaints, and how fresh each dataset is. Rows come back as dicts of the columns named here.
"""

from __future__ import annotations

from typing import Any

import psycopg

from sentinel.db.rows import all_dicts, one_dict

_ATTRIBUTES = """
    SELECT bbl, borough, block, lot, address, zip, units_res, units_total, num_floors, num_buildings, year_built,
           bldg_class, land_use, owner_type, owner_name, latitude, longitude, pluto_version, updated_at
    FROM properties WHERE bbl = %s
"""
_HAS_RECORDS = """
    SELECT (EXISTS (SELECT 1 FROM violations WHERE bbl = %(bbl)s)
            OR EXISTS (SELECT 1 FROM complaints WHERE bbl = %(bbl)s)) AS has_records
"""
_BUILDINGS = "SELECT bin, house_number, street_name, zip FROM buildings WHERE bbl = %s ORDER BY bin"
_OPEN_BY_CLASS = """
    SELECT source, coalesce(class, 'unknown') AS class, count(*) AS open
    FROM violations WHERE bbl = %s AND status = 'open' AND NOT is_deleted
    GROUP BY 1, 2 ORDER BY 1, 2
"""
_DEADLINES = """
    SELECT source, source_id, class, severity, description, certify_by_date, correct_by_date, hearing_date
    FROM violations
    WHERE bbl = %s AND status = 'open' AND NOT is_deleted
      AND (certify_by_date IS NOT NULL OR correct_by_date IS NOT NULL OR hearing_date IS NOT NULL)
    ORDER BY least(certify_by_date, correct_by_date, hearing_date) LIMIT %s
"""
_EXPOSURE = """
    SELECT source, count(*) AS violations,
           sum(penalty_imposed) AS imposed, sum(amount_paid) AS paid, sum(balance_due) AS balance,
           count(*) FILTER (WHERE penalty_imposed IS NULL) AS unknown_imposed,
           count(*) FILTER (WHERE balance_due IS NULL) AS unknown_balance
    FROM violations WHERE bbl = %s AND NOT is_deleted GROUP BY source ORDER BY source
"""
_COMPLAINTS = """
    SELECT source, source_id, category, subcategory, priority, status, received_date, closed_date, bbl_source
    FROM complaints WHERE bbl = %s AND NOT is_deleted
    ORDER BY received_date DESC NULLS LAST, id DESC LIMIT %s
"""
_FRESHNESS = """
    SELECT w.dataset, max(w.updated_at_mark) AS source_updated_through, max(w.updated_at) AS last_committed_at,
           bool_and(w.completed) AS complete,
           (SELECT max(r.finished_at) FROM ingestion_runs r
            WHERE r.status IN ('succeeded', 'partial') AND w.dataset = ANY(r.datasets)) AS last_run_finished_at
    FROM watermarks w GROUP BY w.dataset ORDER BY w.dataset
"""


def attributes(conn: psycopg.Connection[Any], bbl: str) -> dict[str, Any] | None:
    """The lot's PLUTO row, or None when PLUTO does not have it (a lot may still have records)."""
    return one_dict(conn, _ATTRIBUTES, (bbl,))


def has_records(conn: psycopg.Connection[Any], bbl: str) -> bool:
    """Whether any violation or complaint, deleted ones included, names the lot."""
    row = conn.execute(_HAS_RECORDS, {"bbl": bbl}).fetchone()
    return bool(row and row[0])


def buildings(conn: psycopg.Connection[Any], bbl: str) -> list[dict[str, Any]]:
    return all_dicts(conn, _BUILDINGS, (bbl,))


def open_by_source_class(conn: psycopg.Connection[Any], bbl: str) -> list[dict[str, Any]]:
    """source, class ('unknown' when the source gave none), open: the lot's open violations."""
    return all_dicts(conn, _OPEN_BY_CLASS, (bbl,))


def open_with_deadlines(conn: psycopg.Connection[Any], bbl: str, limit: int = 500) -> list[dict[str, Any]]:
    """The lot's open violations that have a certify-by, correct-by or hearing date, soonest first."""
    return all_dicts(conn, _DEADLINES, (bbl, limit))


def exposure_by_source(conn: psycopg.Connection[Any], bbl: str) -> list[dict[str, Any]]:
    """Penalties imposed, paid and due by source, with how many violations have no known amount."""
    return all_dicts(conn, _EXPOSURE, (bbl,))


def recent_complaints(conn: psycopg.Connection[Any], bbl: str, limit: int = 10) -> list[dict[str, Any]]:
    return all_dicts(conn, _COMPLAINTS, (bbl, limit))


def data_freshness(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Each dataset's newest source update, last commit, whether every partition completed, and its last run."""
    return all_dicts(conn, _FRESHNESS)
