"""The demo organization over the core's queries: it watches the lots with the most open violations, has the
demo's rules once however often the demo runs (an edited one is brought back), and the live publisher closes only
open HPD violations of the buildings it watches. Real PostgreSQL with small explicit data; no city, no Ray."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from cluster.demo import (
    DEMO_LOGIN,
    DEMO_RULES,
    WATCHED_BUILDINGS,
    demo_org_id,
    demo_organization,
    watched_open_hpd_ids,
)
from sentinel.db import migrate
from tests.api.seed import add_violation

LOTS = [f"1{n:09d}" for n in range(1, WATCHED_BUILDINGS + 6)]  # five more lots than the portfolio holds


@pytest.fixture
def city_db(empty_database_url: str) -> str:
    """Lot n has n open HPD violations; the last lots also a closed one, an older open DOB one and a deleted one."""
    migrate.upgrade(empty_database_url)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        for n, bbl in enumerate(LOTS, 1):
            for day in range(n):
                add_violation(conn, bbl, issued=date(2024, 1, 1 + day % 28))
        for bbl in LOTS[-3:]:
            add_violation(conn, bbl, status="closed")
            add_violation(conn, bbl, source="DOB", issued=date(2000, 1, 1))
        deleted = add_violation(conn, LOTS[-1], issued=date(1990, 1, 1))
        conn.execute("UPDATE violations SET is_deleted = true WHERE id = %s", (deleted,))
    return empty_database_url


def _watched(conn: psycopg.Connection, org_id: int) -> set[str]:
    rows = conn.execute(
        "SELECT pb.bbl FROM portfolio_buildings pb JOIN portfolios p ON p.id = pb.portfolio_id WHERE p.org_id = %s",
        (org_id,),
    ).fetchall()
    return {r[0] for r in rows}


def _rules(conn: psycopg.Connection, org_id: int) -> dict[str, tuple[dict, object]]:
    rows = conn.execute("SELECT name, condition, updated_at FROM alert_rules WHERE org_id = %s", (org_id,))
    return {name: (condition, updated) for name, condition, updated in rows}


def test_the_demo_organization_watches_the_busiest_lots_and_has_its_rules_once(city_db: str) -> None:
    org_id = demo_organization(city_db)
    with psycopg.connect(city_db, autocommit=True) as conn:
        assert demo_org_id(conn) == org_id
        assert _watched(conn, org_id) == set(LOTS[-WATCHED_BUILDINGS:])  # the most open violations
        first = _rules(conn, org_id)
        assert {name: condition for name, (condition, _) in first.items()} == dict(DEMO_RULES)

        # An older demo's edit of one rule is undone; the other rule is left as it was.
        edited, kept = DEMO_RULES[0][0], DEMO_RULES[1][0]
        conn.execute(
            "UPDATE alert_rules SET condition = %s WHERE org_id = %s AND name = %s",
            ('{"type": "new_violation", "sources": ["DOB"]}', org_id, edited),
        )
        assert demo_organization(city_db) == org_id
        again = _rules(conn, org_id)
        assert again[edited][0] == dict(DEMO_RULES)[edited]
        assert again[kept] == first[kept]
        assert len(again) == len(DEMO_RULES)
        (organizations,) = conn.execute("SELECT count(*) FROM users WHERE lower(email) = %s", (DEMO_LOGIN[0],))
        assert organizations == (1,)


def test_the_live_publisher_closes_open_hpd_violations_of_watched_lots_oldest_first(city_db: str) -> None:
    assert watched_open_hpd_ids(city_db) == []  # no demo organization yet: nothing is watched
    org_id = demo_organization(city_db)
    with psycopg.connect(city_db) as conn:
        rows = conn.execute(
            "SELECT source_id, issued_date, bbl FROM violations WHERE source = 'HPD' AND status = 'open'"
            " AND NOT is_deleted AND bbl = ANY(%s) ORDER BY issued_date, id",
            (sorted(_watched(conn, org_id)),),
        ).fetchall()
    ids = watched_open_hpd_ids(city_db, limit=40)
    assert ids == [r[0] for r in rows[:40]]
    assert len(rows) > 40
