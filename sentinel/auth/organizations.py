"""An organization's own row: its creation with its first admin, and its name and time zone, which its admins
may change."""

from __future__ import annotations

from typing import Any

import psycopg

from sentinel.auth.audit import record_audit
from sentinel.auth.passwords import hash_password
from sentinel.auth.users import create_user
from sentinel.db.rows import one_dict

_COLUMNS = "id, name, timezone, created_at"


def create_organization(
    conn: psycopg.Connection[Any],
    *,
    name: str,
    admin_email: str,
    admin_password: str,
    timezone: str = "America/New_York",
) -> tuple[int, int]:
    """(org_id, admin user_id), committed with an audit entry. The one step that cannot go through the API (who
    would authorize it?): `vsentinel org create`, the demo, tests and benchmarks call it. Another organization's
    name raises psycopg.errors.UniqueViolation."""
    with conn.transaction():
        (org_id,) = conn.execute(
            "INSERT INTO organizations (name, timezone) VALUES (%s, %s) RETURNING id", (name, timezone)
        ).fetchone()  # type: ignore[misc]
        admin = create_user(
            conn, org_id=org_id, email=admin_email, password_hash=hash_password(admin_password), role="admin"
        )
        assert admin is not None  # a new organization has no users whose e-mail it could repeat
        record_audit(
            conn,
            org_id=org_id,
            actor="system:bootstrap",
            action="organization.create",
            target=f"organization:{org_id}",
            details={"name": name, "admin": admin_email},
            request_id=None,
        )
    return org_id, admin["id"]


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
