"""Health checks of the services the system depends on, as plain data the CLI and the API can show."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import psycopg
import redis

from sentinel.db import migrate
from sentinel.db.roles import audit_log_exposure
from sentinel.ingest import deferred_indexes


@dataclass(slots=True)
class Check:
    name: str
    ok: bool
    target: str
    version: str | None = None
    detail: str = ""
    latency_ms: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _redact(url: str) -> str:
    """Hides a password in a URL so reports can be pasted into issues."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user, _, password = credentials.partition(":")
    return f"{scheme}://{user}:***@{host}" if password else url


def check_postgres(dsn: str) -> Check:
    started = time.perf_counter()
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            version = conn.execute("SHOW server_version").fetchone()
        schema = migrate.status(dsn)
    except psycopg.Error as error:
        return Check("postgresql", False, _redact(dsn), detail=str(error).strip().splitlines()[0])
    latency = (time.perf_counter() - started) * 1000
    current = schema.current if schema.current is not None else "none"
    if schema.edited:
        detail = "applied migration(s) edited since they ran: " + ", ".join(m.path.name for m in schema.edited)
    elif schema.pending:
        detail = f"{len(schema.pending)} migration(s) pending"
    else:
        detail = "schema up to date"
    return Check(
        "postgresql",
        schema.up_to_date,
        _redact(dsn),
        version=version[0] if version else None,
        detail=detail,
        latency_ms=latency,
        extra={"schema_version": f"{current} of {schema.latest}"},
    )


def check_audit_log(dsn: str) -> Check:
    """Whether the application's login is kept off the audit log (no owner, no superuser, append only)."""
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            role = conn.execute("SELECT current_user").fetchone()
            exposure = audit_log_exposure(conn)
    except psycopg.Error as error:
        return Check("audit log", False, _redact(dsn), detail=str(error).strip().splitlines()[0])
    target = f"role {role[0] if role else '?'}"
    if exposure is None:
        return Check("audit log", False, target, detail="no schema yet (run `vsentinel db upgrade`)")
    if exposure:
        return Check("audit log", False, target, detail="the application role " + ", ".join(exposure))
    return Check("audit log", True, target, detail="append-only for the application role")


def check_deferred_indexes(dsn: str) -> Check:
    """Whether every index dropped for a first load is built again (sentinel/ingest/deferred_indexes.py): one left
    means a run stopped mid-load, and its table is read without it until the next run builds it."""
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            if conn.execute("SELECT to_regclass('deferred_indexes') IS NULL").fetchone()[0]:  # type: ignore[index]
                return Check("indexes", True, "deferred_indexes", detail="no schema yet: nothing deferred")
            left = deferred_indexes.pending(conn)
    except psycopg.Error as error:
        return Check("indexes", False, _redact(dsn), detail=str(error).strip().splitlines()[0])
    if left:
        names = ", ".join(name for name, _ in left)
        return Check("indexes", False, "deferred_indexes", detail=f"dropped for a load, not built yet: {names} "
                     "(the next ingestion run builds them)")  # fmt: skip
    return Check("indexes", True, "deferred_indexes", detail="every index in place")


def check_redis(url: str) -> Check:
    started = time.perf_counter()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        client.ping()
        info = client.info("server")
        client.close()
    except redis.RedisError as error:
        return Check("redis", False, _redact(url), detail=str(error))
    latency = (time.perf_counter() - started) * 1000
    return Check("redis", True, _redact(url), version=str(info.get("redis_version")), latency_ms=latency)
