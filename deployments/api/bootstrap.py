"""Creating an organization with its first admin: the one step that cannot go through the API (who would
authorize it?). Used by `vsentinel` setup, the demo, tests and benchmarks."""

from __future__ import annotations

from typing import Any

import psycopg

from sentinel.auth.audit import record_audit
from sentinel.auth.passwords import hash_password


def create_organization(
    conn: psycopg.Connection[Any],
    *,
    name: str,
    admin_email: str,
    admin_password: str,
    timezone: str = "America/New_York",
) -> tuple[int, int]:
    """(org_id, admin user_id), committed with an audit entry."""
    with conn.transaction():
        (org_id,) = conn.execute(
            "INSERT INTO organizations (name, timezone) VALUES (%s, %s) RETURNING id", (name, timezone)
        ).fetchone()  # type: ignore[misc]
        (user_id,) = conn.execute(
            "INSERT INTO users (org_id, email, password_hash, role) VALUES (%s, %s, %s, 'admin') RETURNING id",
            (org_id, admin_email, hash_password(admin_password)),
        ).fetchone()  # type: ignore[misc]
        record_audit(
            conn,
            org_id=org_id,
            actor="system:bootstrap",
            action="organization.create",
            target=f"organization:{org_id}",
            details={"name": name, "admin": admin_email},
            request_id=None,
        )
    return org_id, user_id
