"""Numbered SQL migrations (`NNNN_name.sql` beside this module), applied in order, each in its own transaction.

A session-level advisory lock makes concurrent `upgrade` calls (two CLIs, a test and the demo) safe: the second
waits, then finds nothing left to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from sentinel.db import roles

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_LOCK_ID = 0x56535F4D4947  # "VS_MIG": any constant shared by every migrating process
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name} does not match NNNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration numbers in {directory}")
    return found


_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


def applied_versions(conn: psycopg.Connection) -> set[int]:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return set()
    return {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}


def pending(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    done = applied_versions(conn)
    return [m for m in discover(directory) if m.version not in done]


def upgrade(dsn: str, directory: Path = MIGRATIONS_DIR, *, app_role: str | None = None) -> list[Migration]:
    """Applies every pending migration as the owner `dsn` connects as; returns the ones applied (empty when up to
    date). With `app_role`, then grants that role what the application needs (sentinel/db/roles.py), on the tables
    of every migration, old and new."""
    applied: list[Migration] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            if conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,):
                conn.execute(_LEDGER)  # only then: the application role may not create tables, only read this one
            for migration in pending(conn, directory):
                with conn.transaction():
                    conn.execute(migration.sql())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                applied.append(migration)
            if app_role is not None:
                with conn.transaction():
                    roles.grant_application_role(conn, app_role)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied


def grant_if_migrated(dsn: str, app_role: str) -> bool:
    """Re-grants `app_role` on an already migrated schema (the embedded server does this at every start, so a
    schema migrated before the roles existed is usable at once); False when there is no schema yet."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))  # concurrent GRANTs on one object fail
        try:
            if not applied_versions(conn):
                return False
            with conn.transaction():
                roles.grant_application_role(conn, app_role)
            return True
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))


def upgrade_roles(owner_dsn: str, app_dsn: str) -> tuple[list[Migration], str | None]:
    """Migrates as the owner, then grants the role `app_dsn` logs in as; returns the migrations applied and that
    role (None when both URLs log in as the same role: nothing then keeps the application off the audit log)."""
    app_role = roles.application_role(owner_dsn, app_dsn)
    return upgrade(owner_dsn, app_role=app_role), app_role


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    current: int | None
    latest: int
    pending: list[Migration]

    @property
    def up_to_date(self) -> bool:
        return not self.pending


def status(dsn: str, directory: Path = MIGRATIONS_DIR) -> SchemaStatus:
    with psycopg.connect(dsn) as conn:
        done = applied_versions(conn)
        todo = pending(conn, directory)
    latest = max((m.version for m in discover(directory)), default=0)
    return SchemaStatus(current=max(done) if done else None, latest=latest, pending=todo)
