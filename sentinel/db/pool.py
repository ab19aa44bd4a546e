"""The psycopg 3 connection pool shared by everything in one process.

`check=ConnectionPool.check_connection` tests a connection when it is handed out, so after the server drops
connections (restart, failover, idle kill) callers get a fresh one instead of an error.
"""

from __future__ import annotations

import logging

from psycopg_pool import ConnectionPool

from sentinel.db.roles import audit_log_exposure

log = logging.getLogger(__name__)


def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 8, name: str = "sentinel") -> ConnectionPool:
    pool = ConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        name=name,
        open=False,
        check=ConnectionPool.check_connection,
        kwargs={"application_name": f"vsentinel-{name}"},
        timeout=30,
        reconnect_timeout=60,
    )
    pool.open(wait=True, timeout=30)
    with pool.connection() as conn:
        exposure = audit_log_exposure(conn)
    if exposure:
        log.warning(
            "the application's database role can rewrite the audit log: it %s; give VS_DATABASE_URL an application"
            " role and VS_DATABASE_OWNER_URL the owner (README: Database roles and the audit log)",
            ", ".join(exposure),
            extra={"pool": name},
        )
    return pool


def ping(pool: ConnectionPool, timeout: float) -> None:
    """Raises unless the pool hands out a connection within `timeout` seconds and PostgreSQL answers on it."""
    with pool.connection(timeout=timeout) as conn:
        conn.execute("SELECT 1")
