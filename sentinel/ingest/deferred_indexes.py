"""Secondary indexes built after a table's first load instead of kept up row by row during it.

A run that finds one of `TABLES` empty drops its secondary indexes (neither unique nor primary: the unique key is
what the writer's merge and the first read's COPY rely on) and records their definitions in `deferred_indexes`, in
one transaction; once the run's datasets are in, each is built again and its record removed. A run that stopped
before that leaves the records and the next run builds them first, so no index stays missing past the next run.
Only the table's owner may drop and create its indexes: a run that connects as another role
(sentinel/db/roles.py) leaves them alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

# The tables a first load fills by the million (violations, complaints, with their indexes measured:
# benchmarks/RESULTS.md, "Indexes built after a first load").
TABLES = ("violations", "complaints")


def defer(conn: psycopg.Connection, tables: Iterable[str]) -> list[str]:
    """Drops the secondary indexes of each of `tables` that is empty and ours; returns the indexes dropped."""
    dropped: list[str] = []
    for table in tables:
        with conn.transaction():
            owned = conn.execute(
                "SELECT pg_has_role(tableowner, 'USAGE') FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename = %s",
                (table,),
            ).fetchone()
            if not owned or not owned[0]:
                continue
            empty = conn.execute(sql.SQL("SELECT NOT EXISTS (SELECT FROM {})").format(sql.Identifier(table)))
            if not empty.fetchone()[0]:  # type: ignore[index]
                continue
            indexes = conn.execute(
                "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = to_regclass(%s) AND NOT i.indisunique AND NOT i.indisprimary ORDER BY c.relname",
                (table,),
            ).fetchall()
            for name, definition in indexes:
                conn.execute(
                    "INSERT INTO deferred_indexes (name, table_name, definition) VALUES (%s, %s, %s)",
                    (name, table, definition),
                )
                conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
                dropped.append(name)
    if dropped:
        log.info("indexes deferred for a first load", extra={"indexes": dropped})
    return dropped


def pending(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(index, table) of the indexes dropped for a load and not built again yet."""
    return [
        (name, table) for name, table in conn.execute("SELECT name, table_name FROM deferred_indexes ORDER BY name")
    ]


def restore(conn: psycopg.Connection) -> list[str]:
    """Builds every deferred index again (each in its own transaction, its record removed with it); returns them.
    An index found already there (built before its record could be removed) is only unrecorded."""
    built: list[str] = []
    for name, definition in conn.execute("SELECT name, definition FROM deferred_indexes ORDER BY name").fetchall():
        with conn.transaction():
            if conn.execute("SELECT to_regclass(%s) IS NULL", (name,)).fetchone()[0]:  # type: ignore[index]
                conn.execute(definition)  # pg_get_indexdef's own text, recorded by `defer`
                built.append(name)
            conn.execute("DELETE FROM deferred_indexes WHERE name = %s", (name,))
    if built:
        log.info("deferred indexes built", extra={"indexes": built})
    return built
