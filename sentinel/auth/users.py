"""Changing a user's account (the admin API's PATCH): role, active flag, password, with sessions ended when any of
them changes."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from sentinel.auth.user_state import bump_generation

USER_COLUMNS = "id, email, role, is_active, created_at"


def update_user(
    conn: psycopg.Connection[Any],
    *,
    org_id: int,
    user_id: int,
    role: str | None = None,
    is_active: bool | None = None,
    password_hash: str | None = None,
) -> tuple[dict[str, Any] | None, bool]:
    """(the user's row after the change or None when not in `org_id`, whether its sessions were ended).

    Every session of the user ends (its generation is bumped) when its role or active flag changes or its password
    is set: an access token must not outlive the rights or the password it was issued for. Run it in the caller's
    transaction, with the audit row; drop the cached state after the commit."""
    with conn.cursor(row_factory=dict_row) as cur:
        before = cur.execute(
            "SELECT role, is_active FROM users WHERE id = %s AND org_id = %s FOR UPDATE", (user_id, org_id)
        ).fetchone()
        if before is None:
            return None, False
        row = cur.execute(
            f"UPDATE users SET role = coalesce(%s, role), is_active = coalesce(%s, is_active), "  # noqa: S608 -- constant SQL fragments; values are bound
            f"password_hash = coalesce(%s, password_hash) WHERE id = %s RETURNING {USER_COLUMNS}",
            (role, is_active, password_hash, user_id),
        ).fetchone()
    assert row is not None  # locked above
    changed = password_hash is not None or row["role"] != before["role"] or row["is_active"] != before["is_active"]
    if changed:
        bump_generation(conn, user_id)
    return row, changed
