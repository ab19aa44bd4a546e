"""Deadlines are New York City dates: a certify-by date passes at midnight in New York, wherever the reader is.

The one definition of "days overdue" and "days left" that the property page, the portfolio roll-up, the alert
engine and the dry-run share.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

CITY_ZONE = ZoneInfo("America/New_York")


def city_today(now: datetime) -> date:
    """The city's calendar date at `now` (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(CITY_ZONE).date()


def days_overdue(due: date, today: date) -> int:
    """Whole days since `due` passed (0 on the day itself, negative while it is still ahead)."""
    return (today - due).days


def days_left(due: date, today: date) -> int:
    """Whole days until `due` (0 on the day itself)."""
    return (due - today).days


def is_overdue(due: date, today: date, grace_days: int = 0) -> bool:
    """A deadline is overdue from the day after it (plus any grace), in the city's calendar."""
    return days_overdue(due, today) > grace_days


def city_midnight(day: date) -> datetime:
    """The instant `day` begins in New York, in UTC."""
    return datetime.combine(day, time(0), CITY_ZONE).astimezone(UTC)


def overdue_since(due: date, grace_days: int = 0) -> datetime:
    """The instant a deadline becomes overdue: the city's midnight after `due` plus the grace days."""
    return city_midnight(due + timedelta(days=grace_days + 1))


_UPCOMING = """
    SELECT d.due, d.kind, v.bbl, p.address, v.source, v.source_id, v.class, count(*) OVER () AS total
    FROM violations v
    JOIN (SELECT DISTINCT pb.bbl FROM portfolio_buildings pb JOIN portfolios po ON po.id = pb.portfolio_id
          WHERE po.org_id = %(org)s) w ON w.bbl = v.bbl
    CROSS JOIN LATERAL (VALUES ('certify_by', v.certify_by_date), ('correct_by', v.correct_by_date)) AS d(kind, due)
    LEFT JOIN properties p ON p.bbl = v.bbl
    WHERE v.status = 'open' AND NOT v.is_deleted AND v.certified_date IS NULL AND d.due BETWEEN %(first)s AND %(last)s
    ORDER BY d.due, v.bbl, v.source_id LIMIT %(limit)s
"""


def upcoming_for_org(
    conn: psycopg.Connection, org_id: int, first: date, last: date, limit: int = 5
) -> tuple[int, list[tuple[Any, ...]]]:
    """Open certify-by and correct-by dates in [first, last] at the buildings an organization watches:
    (how many, the first `limit` as (due, kind, bbl, address, source, source_id, class))."""
    rows = conn.execute(_UPCOMING, {"org": org_id, "first": first, "last": last, "limit": limit}).fetchall()
    return (rows[0][-1] if rows else 0), [tuple(r[:-1]) for r in rows]
