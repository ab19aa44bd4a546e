"""The portfolios an organization watches and their buildings: every query takes the organization, so another
organization's portfolio reads as a missing one.

Run in the caller's connection (and transaction, for the writes, so the audit row commits with them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg

from sentinel.db.rows import all_dicts


@dataclass(frozen=True, slots=True)
class PortfolioHead:
    id: int
    name: str
    created_at: datetime


def is_owned(conn: psycopg.Connection[Any], portfolio_id: int, org_id: int) -> bool:
    row = conn.execute("SELECT 1 FROM portfolios WHERE id = %s AND org_id = %s", (portfolio_id, org_id)).fetchone()
    return row is not None


def owned_ids(conn: psycopg.Connection[Any], org_id: int, portfolio_ids: Sequence[int]) -> set[int]:
    """Those of `portfolio_ids` that belong to the organization."""
    rows = conn.execute(
        "SELECT id FROM portfolios WHERE org_id = %s AND id = ANY(%s)", (org_id, list(portfolio_ids))
    ).fetchall()
    return {r[0] for r in rows}


def head(conn: psycopg.Connection[Any], portfolio_id: int, org_id: int) -> PortfolioHead | None:
    row = conn.execute(
        "SELECT id, name, created_at FROM portfolios WHERE id = %s AND org_id = %s", (portfolio_id, org_id)
    ).fetchone()
    return PortfolioHead(*row) if row is not None else None


def list_with_counts(conn: psycopg.Connection[Any], org_id: int) -> list[dict[str, Any]]:
    """id, name, created_at and the number of buildings of each of the organization's portfolios, by id."""
    return all_dicts(
        conn,
        "SELECT p.id, p.name, p.created_at, count(b.bbl) AS buildings FROM portfolios p "
        "LEFT JOIN portfolio_buildings b ON b.portfolio_id = p.id WHERE p.org_id = %s "
        "GROUP BY p.id ORDER BY p.id",
        (org_id,),
    )


def create(conn: psycopg.Connection[Any], org_id: int, name: str) -> PortfolioHead | None:
    """The new portfolio, or None when the organization already has one of that name."""
    row = conn.execute(
        "INSERT INTO portfolios (org_id, name) VALUES (%s, %s) ON CONFLICT (org_id, name) DO NOTHING "
        "RETURNING id, name, created_at",
        (org_id, name),
    ).fetchone()
    return PortfolioHead(*row) if row is not None else None


def delete(conn: psycopg.Connection[Any], portfolio_id: int, org_id: int) -> bool:
    """Whether the organization had that portfolio (its buildings go with it)."""
    row = conn.execute(
        "DELETE FROM portfolios WHERE id = %s AND org_id = %s RETURNING id", (portfolio_id, org_id)
    ).fetchone()
    return row is not None


def known_bbls(conn: psycopg.Connection[Any], bbls: Sequence[str]) -> set[str]:
    """Those of `bbls` that some dataset knows: a PLUTO lot, or a lot with violations or registered buildings."""
    rows = conn.execute(
        "SELECT bbl FROM properties WHERE bbl = ANY(%(bbls)s::bpchar[]) "
        "UNION SELECT DISTINCT bbl FROM violations WHERE bbl = ANY(%(bbls)s::bpchar[]) "
        "UNION SELECT DISTINCT bbl FROM buildings WHERE bbl = ANY(%(bbls)s::bpchar[])",
        {"bbls": list(bbls)},
    ).fetchall()
    return {r[0] for r in rows}


def add_buildings(conn: psycopg.Connection[Any], portfolio_id: int, buildings: dict[str, str | None]) -> list[str]:
    """Add BBL -> BIN (None when unknown); the BBLs that were not in the portfolio yet, in the order given."""
    added = []
    with conn.cursor() as cur:
        for bbl, bin_ in buildings.items():
            cur.execute(
                "INSERT INTO portfolio_buildings (portfolio_id, bbl, bin) VALUES (%s, %s, %s) "
                "ON CONFLICT (portfolio_id, bbl) DO NOTHING RETURNING bbl",
                (portfolio_id, bbl, bin_),
            )
            if cur.fetchone() is not None:
                added.append(bbl)
    return added


def remove_buildings(conn: psycopg.Connection[Any], portfolio_id: int, bbls: Sequence[str]) -> list[str]:
    """The BBLs removed (those that were in the portfolio)."""
    rows = conn.execute(
        "DELETE FROM portfolio_buildings WHERE portfolio_id = %s AND bbl = ANY(%s::bpchar[]) RETURNING bbl",
        (portfolio_id, list(bbls)),
    ).fetchall()
    return [r[0] for r in rows]


_ROLLUP = """
    SELECT b.bbl, b.bin, p.address, p.borough, p.latitude, p.longitude,
           s.overall, s.safety, s.legal, s.financial, s.trend, s.computed_at AS score_computed_at,
           coalesce(v.open_violations, 0) AS open_violations, coalesce(v.open_class_c, 0) AS open_class_c,
           v.imposed, v.paid, v.balance, coalesce(v.unknown_amounts, 0) AS violations_with_unknown_amounts,
           v.overdue_deadlines, v.next_deadline
    FROM portfolio_buildings b
    LEFT JOIN properties p ON p.bbl = b.bbl
    LEFT JOIN LATERAL (
        SELECT overall, safety, legal, financial, trend, computed_at FROM risk_scores r
        WHERE r.bbl = b.bbl ORDER BY computed_at DESC LIMIT 1) s ON true
    LEFT JOIN LATERAL (
        SELECT count(*) FILTER (WHERE status = 'open') AS open_violations,
               count(*) FILTER (WHERE status = 'open' AND source = 'HPD' AND class = 'C') AS open_class_c,
               sum(penalty_imposed) AS imposed, sum(amount_paid) AS paid, sum(balance_due) AS balance,
               count(*) FILTER (WHERE balance_due IS NULL) AS unknown_amounts,
               count(*) FILTER (WHERE status = 'open' AND least(certify_by_date, correct_by_date) < %s)
                   AS overdue_deadlines,
               min(least(certify_by_date, correct_by_date, hearing_date))
                   FILTER (WHERE status = 'open' AND greatest(certify_by_date, correct_by_date, hearing_date) >= %s)
                   AS next_deadline
        FROM violations WHERE bbl = b.bbl AND NOT is_deleted) v ON true
    WHERE b.portfolio_id = %s ORDER BY b.bbl
"""


def rollup_query(portfolio_id: int, today: date) -> tuple[str, tuple[Any, ...]]:
    """One row a building (latest score, open violations, penalties, deadlines as of `today`), by BBL: the
    statement and its parameters, for the roll-up and for the CSV export that streams the same rows."""
    return _ROLLUP, (today, today, portfolio_id)


def rollup_rows(conn: psycopg.Connection[Any], portfolio_id: int, today: date) -> list[dict[str, Any]]:
    return all_dicts(conn, *rollup_query(portfolio_id, today))


def lots_with_most_open_violations(conn: psycopg.Connection[Any], limit: int) -> list[str]:
    """The `limit` lots with the most open violations, most first (ties by BBL): a watch list to start from."""
    rows = conn.execute(
        "SELECT bbl FROM violations WHERE bbl IS NOT NULL AND status = 'open' AND NOT is_deleted GROUP BY bbl "
        "ORDER BY count(*) DESC, bbl LIMIT %s",
        (limit,),
    ).fetchall()
    return [r[0] for r in rows]


def open_violation_ids(conn: psycopg.Connection[Any], org_id: int, source: str, limit: int) -> list[str]:
    """The source ids of one source's open violations at the buildings the organization watches, oldest first."""
    rows = conn.execute(
        "SELECT v.source_id FROM violations v WHERE v.source = %s AND v.status = 'open' AND NOT v.is_deleted "
        "AND v.bbl IN (SELECT pb.bbl FROM portfolio_buildings pb JOIN portfolios p ON p.id = pb.portfolio_id "
        "WHERE p.org_id = %s) ORDER BY v.issued_date NULLS FIRST, v.id LIMIT %s",
        (source, org_id, limit),
    ).fetchall()
    return [r[0] for r in rows]
