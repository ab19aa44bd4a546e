"""Writing the append-only audit log (the table's triggers refuse UPDATE, DELETE and TRUNCATE)."""

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

_INSERT = """
    INSERT INTO audit_log (org_id, actor, action, target, details, request_id)
    VALUES (%s, %s, %s, %s, %s, %s)
    RETURNING id
"""


def record_audit(
    conn: psycopg.Connection[Any],
    *,
    org_id: int | None,
    actor: str,
    action: str,
    target: str | None,
    details: Mapping[str, Any] | None,
    request_id: str | None,
) -> int:
    """Append one audit entry and return its id.

    It does not commit: call it inside the transaction of the change it records, so the change and its audit
    entry are committed (or rolled back) together. Never put secrets (passwords, full API keys) in `details`.
    """
    row = conn.execute(_INSERT, (org_id, actor, action, target, Jsonb(dict(details or {})), request_id)).fetchone()
    assert row is not None  # INSERT .. RETURNING always yields the row
    return int(row[0])
