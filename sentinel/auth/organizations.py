"""An organization's own row: its name and time zone, which its admins may change."""

from __future__ import annotations

from typing import Any

import psycopg

from sentinel.db.rows import one_dict

_COLUMNS = "id, name, timezone, created_at"


def get(conn: psycopg.Connection[Any], org_id: int) -> dict[str, Any] | None:
    return one_dict(conn, f"SELECT {_COLUMNS} FROM organizations WHERE id = %s", (org_id,))  # noqa: S608 -- constant SQL fragments; values are bound


def update(
    conn: psycopg.Connection[Any], org_id: int, *, name: str | None = None, timezone: str | None = None
) -> dict[str, Any] | None:
    """The row after the change (None leaves a field as it is), or None when there is no such organization.
    Another organization's name raises psycopg.errors.UniqueViolation."""
    return one_dict(
        conn,
        "UPDATE organizations SET name = coalesce(%s, name), timezone = coalesce(%s, timezone) "  # noqa: S608 -- constant SQL fragments; values are bound
        f"WHERE id = %s RETURNING {_COLUMNS}",
        (name, timezone, org_id),
    )


def name_of(conn: psycopg.Connection[Any], org_id: int) -> str | None:
    row = conn.execute("SELECT name FROM organizations WHERE id = %s", (org_id,)).fetchone()
    return row[0] if row else None


def timezone_of(conn: psycopg.Connection[Any], org_id: int) -> str | None:
    row = conn.execute("SELECT timezone FROM organizations WHERE id = %s", (org_id,)).fetchone()
    return row[0] if row else None
