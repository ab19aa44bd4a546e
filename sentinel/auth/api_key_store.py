"""The api_keys rows an organization manages: created (the hash only, sentinel/auth/api_keys.py makes it), listed,
revoked. Rows are dicts of KEY_COLUMNS; another organization's key reads as a missing one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from sentinel.db.rows import all_dicts, one_dict

KEY_COLUMNS = "id, name, prefix, scopes, expires_at, revoked_at, last_used_at, created_at"


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
