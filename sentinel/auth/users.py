"""Users' rows: looked up to sign in and to refresh a session, listed and added by an organization's admins, and
changed (the admin API's PATCH: role, active flag, password) with sessions ended when any of them changes.

An e-mail is unique per organization (migration 0017), not across them. The writes run in the caller's
transaction, so the audit row commits with them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import psycopg
from psycopg.rows import dict_row

from sentinel.auth.user_state import bump_generation
from sentinel.db.rows import all_dicts, one_dict

USER_COLUMNS = "id, email, role, is_active, created_at"


class LoginAccount(NamedTuple):
    id: int
    org_id: int
    role: str
    password_hash: str | None
    is_active: bool
    session_generation: int


class SessionState(NamedTuple):
    """What a refresh is checked against, read under a row lock so two refreshes of one user run one at a time."""

    org_id: int
    role: str
    is_active: bool
    sessions_valid_after: datetime | None
    session_generation: int


class Credentials(NamedTuple):
    email: str
    password_hash: str | None


def accounts_for_login(conn: psycopg.Connection[Any], email: str, org_id: int | None) -> list[LoginAccount]:
    """The accounts of this e-mail (any case), in `org_id` when given, oldest first; inactive ones included."""
    rows = conn.execute(
        "SELECT id, org_id, role, password_hash, is_active, session_generation FROM users "
        "WHERE lower(email) = lower(%s) AND (%s::bigint IS NULL OR org_id = %s) ORDER BY id",
        (email, org_id, org_id),
    ).fetchall()
    return [LoginAccount(*row) for row in rows]


def set_password_hash(conn: psycopg.Connection[Any], user_id: int, password_hash: str) -> None:
    """Store a new hash of the same password (a rehash with today's parameters): sessions stay."""
    conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id))


def lock_session_state(conn: psycopg.Connection[Any], user_id: int) -> SessionState | None:
    """The user's session state, its row locked until the caller's transaction ends."""
    row = conn.execute(
        "SELECT org_id, role, is_active, sessions_valid_after, session_generation FROM users WHERE id = %s FOR UPDATE",
        (user_id,),
    ).fetchone()
    return SessionState(*row) if row is not None else None


def credentials(conn: psycopg.Connection[Any], user_id: int) -> Credentials | None:
    row = conn.execute("SELECT email, password_hash FROM users WHERE id = %s", (user_id,)).fetchone()
    return Credentials(*row) if row is not None else None


def email_of(conn: psycopg.Connection[Any], user_id: int, org_id: int | None = None) -> str | None:
    """The user's e-mail; with `org_id`, None unless the user is in that organization."""
    row = conn.execute(
        "SELECT email FROM users WHERE id = %s AND (%s::bigint IS NULL OR org_id = %s)", (user_id, org_id, org_id)
    ).fetchone()
    return row[0] if row else None


def list_users(conn: psycopg.Connection[Any], org_id: int) -> list[dict[str, Any]]:
    sql = f"SELECT {USER_COLUMNS} FROM users WHERE org_id = %s ORDER BY id"  # noqa: S608 -- constant SQL fragments; values are bound
    return all_dicts(conn, sql, (org_id,))


def create_user(
    conn: psycopg.Connection[Any], *, org_id: int, email: str, password_hash: str, role: str
) -> dict[str, Any] | None:
    """The new user's row, or None when the organization already has a user with that e-mail. The insert runs in
    a savepoint, so the caller's transaction goes on after a refusal."""
    try:
        with conn.transaction():
            return one_dict(
                conn,
                "INSERT INTO users (org_id, email, password_hash, role) VALUES (%s, %s, %s, %s) "  # noqa: S608 -- constant SQL fragments; values are bound
                f"RETURNING {USER_COLUMNS}",
                (org_id, email, password_hash, role),
            )
    except psycopg.errors.UniqueViolation:
        return None


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
