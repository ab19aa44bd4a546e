"""What a portfolio's overview draws: open violations at each month end, and today's open ones by source and class.

A violation counts as open at a month end when it was issued on or before that day and was not closed by then.
The close day is the status date of a closed violation (the sources record no separate close date); a closed
violation without one counts as open until its status changed, which we cannot see, so it is left out.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from psycopg.rows import dict_row

_OPEN_BY_MONTH = """
    WITH months AS (
        SELECT (date_trunc('month', %(today)s::date) - make_interval(months => n) + interval '1 month - 1 day')::date
               AS month_end
        FROM generate_series(0, %(months)s - 1) AS n
    ), watched AS (
        SELECT v.issued_date, v.status, v.status_date, v.source
        FROM portfolio_buildings b JOIN violations v ON v.bbl = b.bbl
        WHERE b.portfolio_id = %(portfolio_id)s AND NOT v.is_deleted AND v.issued_date IS NOT NULL
    )
    SELECT m.month_end,
           count(w.*) FILTER (WHERE w.issued_date <= m.month_end
                              AND (w.status = 'open' OR w.status_date > m.month_end)) AS open
    FROM months m LEFT JOIN watched w ON w.issued_date <= m.month_end
    GROUP BY m.month_end ORDER BY m.month_end
"""

_OPEN_BY_SOURCE_CLASS = """
    SELECT v.source, coalesce(v.class, '') AS class, count(*) AS open
    FROM portfolio_buildings b JOIN violations v ON v.bbl = b.bbl
    WHERE b.portfolio_id = %s AND v.status = 'open' AND NOT v.is_deleted
    GROUP BY v.source, coalesce(v.class, '') ORDER BY v.source, class
"""

_UPCOMING = """
    SELECT count(*) FROM portfolio_buildings b JOIN violations v ON v.bbl = b.bbl
    WHERE b.portfolio_id = %s AND v.status = 'open' AND NOT v.is_deleted
      AND least(v.certify_by_date, v.correct_by_date, v.hearing_date) BETWEEN %s AND %s::date + %s
"""


def open_violations_by_month(conn: Any, portfolio_id: int, today: date, months: int = 24) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        params = {"today": today, "months": months, "portfolio_id": portfolio_id}
        return cur.execute(_OPEN_BY_MONTH, params).fetchall()


def open_violations_by_source_class(conn: Any, portfolio_id: int) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_OPEN_BY_SOURCE_CLASS, (portfolio_id,)).fetchall()


def upcoming_deadlines(conn: Any, portfolio_id: int, today: date, days: int) -> int:
    row = conn.execute(_UPCOMING, (portfolio_id, today, today, days)).fetchone()
    return int(row[0]) if row else 0
