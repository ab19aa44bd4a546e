"""Small explicit rows for engine tests: an organization watching buildings, rules, runs and records."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import orjson
import psycopg

WATCHED = "1000010001"
WATCHED_2 = "1000010002"
UNWATCHED = "3000030003"
# These tests run on fixed clocks in 2026: their rules and portfolios have been watching since long before,
# so what the tests' runs bring is news (a rule made "now" would take it as its baseline: test_baseline.py).
WATCHING_SINCE = datetime(2020, 1, 1, tzinfo=UTC)


def org(conn: psycopg.Connection, name: str = "Acme", timezone: str = "America/New_York") -> int:
    row = conn.execute(
        "INSERT INTO organizations (name, timezone) VALUES (%s, %s) RETURNING id", (name, timezone)
    ).fetchone()
    assert row
    return int(row[0])


def portfolio(
    conn: psycopg.Connection, org_id: int, bbls: list[str], name: str = "main", added_at: datetime = WATCHING_SINCE
) -> int:
    row = conn.execute("INSERT INTO portfolios (org_id, name) VALUES (%s, %s) RETURNING id", (org_id, name)).fetchone()
    assert row
    for bbl in bbls:
        conn.execute(
            "INSERT INTO portfolio_buildings (portfolio_id, bbl, added_at) VALUES (%s, %s, %s)", (row[0], bbl, added_at)
        )
    return int(row[0])


def rule(
    conn: psycopg.Connection,
    org_id: int,
    condition: dict[str, Any],
    channels: list[dict[str, str]],
    *,
    scope: dict[str, Any] | None = None,
    name: str = "rule",
    delivery: str = "immediate",
    quiet_hours: dict[str, str] | None = None,
    cooldown_minutes: int = 0,
    monitoring_since: datetime = WATCHING_SINCE,
) -> int:
    row = conn.execute(
        "INSERT INTO alert_rules (org_id, name, condition, scope, channels, delivery, quiet_hours, cooldown_minutes,"
        " monitoring_since) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            org_id,
            name,
            _j(condition),
            _j(scope or {"type": "organization"}),
            _j(channels),
            delivery,
            _j(quiet_hours) if quiet_hours else None,
            cooldown_minutes,
            monitoring_since,
        ),
    ).fetchone()
    assert row
    return int(row[0])


def run(conn: psycopg.Connection, started_at: datetime) -> int:
    row = conn.execute(
        "INSERT INTO ingestion_runs (mode, source_url, datasets, status, started_at, finished_at)"
        " VALUES ('incremental', 'http://test', '{hpd_violations}', 'succeeded', %s, %s) RETURNING id",
        (started_at, started_at),
    ).fetchone()
    assert row
    return int(row[0])


def violation(
    conn: psycopg.Connection,
    source_id: str,
    bbl: str,
    run_id: int,
    first_seen_at: datetime,
    *,
    status: str = "open",
    violation_class: str = "C",
    severity: str = "immediately_hazardous",
    description: str = "NO HEAT",
    certify_by: date | None = None,
    hearing: date | None = None,
    balance_due: str | None = None,
) -> int:
    row = conn.execute(
        "INSERT INTO violations (source, source_id, bbl, class, severity, description, status, certify_by_date,"
        " hearing_date, balance_due, raw, content_hash, first_seen_at, last_run_id)"
        " VALUES ('HPD', %s, %s, %s, %s, %s, %s, %s, %s, %s, '{}', 'h', %s, %s) RETURNING id",
        (source_id, bbl, violation_class, severity, description, status, certify_by, hearing, balance_due,
         first_seen_at, run_id),
    ).fetchone()  # fmt: skip
    assert row
    return int(row[0])


def change_status(conn: psycopg.Connection, violation_id: int, run_id: int, new_status: str, on: date) -> None:
    old = conn.execute("SELECT status FROM violations WHERE id = %s", (violation_id,)).fetchone()
    assert old
    conn.execute(
        "UPDATE violations SET status = %s, status_date = %s, last_run_id = %s WHERE id = %s",
        (new_status, on, run_id, violation_id),
    )
    conn.execute(
        "INSERT INTO status_history (record_kind, record_id, source, source_id, old_status, new_status, run_id)"
        " SELECT 'violation', id, source, source_id, %s, %s, %s FROM violations WHERE id = %s",
        (old[0], new_status, run_id, violation_id),
    )


def score(conn: psycopg.Connection, bbl: str, as_of: date, overall: int, computed_at: datetime) -> None:
    """A building's scores of a day (every kind `overall`), stored at `computed_at`."""
    p = overall / 100
    conn.execute(
        "INSERT INTO risk_scores (bbl, as_of, overall, safety, legal, financial, p_overall, p_safety, p_legal,"
        " p_financial, trend, model_versions, computed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'flat',"
        " '{}', %s)",
        (bbl, as_of, overall, overall, overall, overall, p, p, p, p, computed_at),
    )


def notifications(conn: psycopg.Connection) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("SELECT * FROM notifications ORDER BY id")
        return cur.fetchall()


def _j(value: Any) -> str:
    return orjson.dumps(value).decode()
