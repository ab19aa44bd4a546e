"""The api_keys rows an organization manages: created (the hash only, sentinel/auth/api_keys.py makes it), listed,
revoked. Rows are dicts of KEY_COLUMNS; another organization's key reads as a missing one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import psycopg

from sentinel.auth.principal import Role
from sentinel.auth.user_state import UserState
from sentinel.db.rows import all_dicts, one_dict

KEY_COLUMNS = "id, name, prefix, scopes, expires_at, revoked_at, last_used_at, created_at"


class StoredKey(NamedTuple):
    """What authenticating a key needs: its hash, scopes and validity, and its creator's current state (the
    creator_* fields are None when the key has no creator or the creator's row is gone)."""

    id: int
    org_id: int
    user_id: int | None
    key_hash: str
    scopes: list[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    creator_org_id: int | None
    creator_role: str | None
    creator_active: bool | None
    creator_generation: int | None

    def creator(self) -> UserState | None:
        """The creator as it stands now, or None when the key has no creator or the creator's row is gone."""
        if self.user_id is None or self.creator_org_id is None:
            return None
        # A joined users row has all of these (NOT NULL columns).
        role, active, generation = str(self.creator_role), bool(self.creator_active), int(self.creator_generation or 0)
        return UserState(self.user_id, self.creator_org_id, Role(role), active, generation)


def by_prefix(conn: psycopg.Connection[Any], prefix: str) -> StoredKey | None:
    """The key with this public prefix (unique), whatever its organization: the caller verifies the hash."""
    row = conn.execute(
        "SELECT k.id, k.org_id, k.user_id, k.key_hash, k.scopes, k.expires_at, k.revoked_at, "
        "u.org_id, u.role, u.is_active, u.session_generation "
        "FROM api_keys k LEFT JOIN users u ON u.id = k.user_id WHERE k.prefix = %s",
        (prefix,),
    ).fetchone()
    return StoredKey(*row) if row is not None else None


def mark_used(conn: psycopg.Connection[Any], key_id: int) -> None:
    conn.execute("UPDATE api_keys SET last_used_at = now() WHERE id = %s", (key_id,))


def create(
    conn: psycopg.Connection[Any],
    *,
    org_id: int,
    user_id: int | None,
    name: str,
    prefix: str,
    key_hash: str,
    scopes: Sequence[str],
    expires_at: datetime | None,
) -> dict[str, Any]:
    row = one_dict(
        conn,
        "INSERT INTO api_keys (org_id, user_id, name, prefix, key_hash, scopes, expires_at) "  # noqa: S608 -- constant SQL fragments; values are bound
        f"VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {KEY_COLUMNS}",
        (org_id, user_id, name, prefix, key_hash, list(scopes), expires_at),
    )
    assert row is not None  # INSERT ... RETURNING without ON CONFLICT returns its row
    return row


def list_for_org(conn: psycopg.Connection[Any], org_id: int) -> list[dict[str, Any]]:
    sql = f"SELECT {KEY_COLUMNS} FROM api_keys WHERE org_id = %s ORDER BY id"  # noqa: S608 -- constant SQL fragments; values are bound
    return all_dicts(conn, sql, (org_id,))


def revoke(conn: psycopg.Connection[Any], key_id: int, org_id: int) -> dict[str, Any] | None:
    """The key, revoked (a second revocation keeps the first time), or None when the organization has no such key."""
    return one_dict(
        conn,
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s AND org_id = %s "  # noqa: S608 -- constant SQL fragments; values are bound
        f"RETURNING {KEY_COLUMNS}",
        (key_id, org_id),
    )
