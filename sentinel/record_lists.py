"""Violations and complaints as lists: filtered, newest first by (issued / received date, id), read a page at a
time by keyset (the last row's pair) or whole as an export statement.

Keyset paging stays fast and stable while new rows arrive (no OFFSET); rows without a date sort last.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import psycopg

from sentinel.db.rows import all_dicts

NO_DATE = date(1, 1, 1)  # what a row without a date sorts as


@dataclass(frozen=True)
class Table:
    name: str
    date_column: str
    columns: tuple[str, ...]

    @property
    def sort_key(self) -> str:
        return f"coalesce({self.date_column}, DATE '0001-01-01')"


VIOLATIONS = Table(
    "violations",
    "issued_date",
    (
        "id", "source", "source_id", "bbl", "bin", "borough", "class", "severity", "category", "description",
        "status", "status_raw", "issued_date", "status_date", "certify_by_date", "correct_by_date",
        "certified_date", "hearing_date", "penalty_imposed", "amount_paid", "balance_due", "updated_at",
    ),
)  # fmt: skip
COMPLAINTS = Table(
    "complaints",
    "received_date",
    (
        "id", "source", "source_id", "complaint_id", "bbl", "bin", "borough", "category", "subcategory",
        "priority", "status", "status_raw", "received_date", "status_date", "closed_date", "updated_at",
    ),
)  # fmt: skip


@dataclass
class Filters:
    source: list[str] | None
    status: Literal["open", "closed"] | None
    borough: int | None
    bbl: str | None
    bin: str | None
    date_from: date | None
    date_to: date | None
    klass: list[str] | None = None
    severity: list[str] | None = None
    category: str | None = None  # a part of the category, any case


def _where(table: Table, f: Filters) -> tuple[list[str], list[Any]]:
    where, params = ["NOT is_deleted"], []
    for column, value in (("source", f.source), ("class", f.klass), ("severity", f.severity)):
        if value:
            where.append(f"{column} = ANY(%s)")
            params.append([v.upper() if column == "source" else v for v in value])
    for column, value in (("status", f.status), ("borough", f.borough), ("bbl", f.bbl), ("bin", f.bin)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if f.category:
        where.append("category ILIKE %s")
        params.append(f"%{f.category}%")
    if f.date_from:
        where.append(f"{table.date_column} >= %s")
        params.append(f.date_from)
    if f.date_to:
        where.append(f"{table.date_column} <= %s")
        params.append(f.date_to)
    return where, params


def _select(table: Table, where: list[str]) -> str:
    return (
        f"SELECT {', '.join(table.columns)} FROM {table.name} WHERE {' AND '.join(where)} "  # noqa: S608 -- constant SQL fragments; values are bound
        f"ORDER BY {table.sort_key} DESC, id DESC LIMIT %s"
    )


def page(
    conn: psycopg.Connection[Any], table: Table, f: Filters, limit: int, after: tuple[date, int] | None = None
) -> list[dict[str, Any]]:
    """Up to `limit` rows, newest first; `after` is the (date or NO_DATE, id) of the previous page's last row."""
    where, params = _where(table, f)
    if after is not None:
        where.append(f"({table.sort_key}, id) < (%s, %s)")
        params += list(after)
    return all_dicts(conn, _select(table, where), [*params, limit])


def export_query(table: Table, f: Filters, limit: int) -> tuple[str, list[Any]]:
    """The statement and parameters of every matching row (up to `limit`), newest first: for a streamed export."""
    where, params = _where(table, f)
    return _select(table, where), [*params, limit]
