"""The runner of the numbered SQL migrations (`migrations/NNNN_name.sql` beside this module): each pending one
applied in order, in its own transaction, and recorded in `schema_migrations` with the sha256 of its file.

An applied migration is never run again, so editing its file would leave databases migrated before the edit
different from those migrated after. `upgrade` therefore compares every applied file with the checksum recorded
when it ran and refuses to go on when one differs (`EditedMigrationError`, naming the file): a change to the
schema is a new numbered file. A database migrated before the ledger had checksums gets them recorded from the
files at its first `upgrade` (the ledger column is added then).

Numbers need not be contiguous: pending means "not in the ledger", whatever the number. There is no 0006 and never
was (0007 was the next file committed after 0005); numbers are handed out ahead of the work, and one whose work
needed no migration stays unused rather than be filled with an empty file.

A session-level advisory lock makes concurrent `upgrade` calls (two CLIs, a test and the demo) safe: the second
waits, then finds nothing left to do.

A maintained library was considered: yoyo-migrations records a hash of each migration's id, not of its content,
and Alembic's revisions are Python files, not this folder of SQL; neither refuses an edited applied file.
"""

from __future__ import annotations

import hashlib
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

    def checksum(self) -> str:
        """The sha256 of the file's bytes, as recorded in the ledger when it is applied."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


class EditedMigrationError(RuntimeError):
    """An applied migration's file no longer matches the checksum recorded when it ran."""

    def __init__(self, edited: list[Migration]) -> None:
        self.edited = edited
        names = ", ".join(str(m.path) for m in edited)
        super().__init__(
            f"applied migration file(s) edited since they ran: {names}. Restore the applied content "
            "(git log -p on the file) and put the change in a new numbered migration."
        )


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
    applied_at  timestamptz NOT NULL DEFAULT now(),
    checksum    text
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


def _ledger_has_checksums(conn: psycopg.Connection) -> bool:
    found = conn.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = 'schema_migrations' AND column_name = 'checksum'"
    ).fetchone()
    return found is not None


def _recorded_checksums(conn: psycopg.Connection) -> dict[int, str | None]:
    if not _ledger_has_checksums(conn):
        return dict.fromkeys(applied_versions(conn))
    return dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())


def edited(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The applied migrations whose file differs from the checksum recorded when they ran. An applied migration
    with no checksum yet (a ledger older than the column) is not counted: `upgrade` records it."""
    recorded = _recorded_checksums(conn)
    return [
        m for m in discover(directory) if recorded.get(m.version) is not None and recorded[m.version] != m.checksum()
    ]


def _record_missing(conn: psycopg.Connection, directory: Path) -> None:
    """Records the files' checksums for applied migrations that ran before the ledger had the column (adding it to
    a ledger created before it existed)."""
    if not _ledger_has_checksums(conn):
        conn.execute("ALTER TABLE schema_migrations ADD COLUMN checksum text")
    missing = {version for version, checksum in _recorded_checksums(conn).items() if checksum is None}
    for migration in discover(directory):
        if migration.version in missing:
            conn.execute(
                "UPDATE schema_migrations SET checksum = %s WHERE version = %s AND checksum IS NULL",
                (migration.checksum(), migration.version),
            )


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
            changed = edited(conn, directory)
            if changed:
                raise EditedMigrationError(changed)
            with conn.transaction():
                _record_missing(conn, directory)
            for migration in pending(conn, directory):
                with conn.transaction():
                    conn.execute(migration.sql())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum()),
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
    edited: list[Migration]

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.edited


def status(dsn: str, directory: Path = MIGRATIONS_DIR) -> SchemaStatus:
    with psycopg.connect(dsn) as conn:
        done = applied_versions(conn)
        todo = pending(conn, directory)
        changed = edited(conn, directory)
    latest = max((m.version for m in discover(directory)), default=0)
    return SchemaStatus(current=max(done) if done else None, latest=latest, pending=todo, edited=changed)
