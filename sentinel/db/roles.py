"""The two database roles: the owner, which migrates, and the application role, which everything else runs as.

The owner owns every table (it created them in the migrations). The application role is a separate login that
reads and writes the data but may only read and append to the audit log: no UPDATE, DELETE or TRUNCATE on it,
and, since it owns nothing, no ALTER TABLE (so no DISABLE TRIGGER); as a non-superuser it cannot set
session_replication_role either. `grant_application_role` gives it exactly that after every upgrade, so tables
added by later migrations are covered without each migration repeating the grants.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

# Tables the application reads but never writes: the audit log is append-only (INSERT granted alone), the chain is
# written only by the owner's trigger function, the migration ledger only by migrations.
_APPEND_ONLY = ("audit_log",)
_READ_ONLY = ("audit_chain", "audit_chain_head", "schema_migrations")
_FUNCTIONS = ("analyze_table(regclass)",)


class RoleError(Exception):
    """The configured roles cannot give the separation (missing role, superuser application role, ...)."""


def url_with_user(url: str, user: str) -> str:
    """`url` with its user replaced (and no password): the same server and database as another login."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}@{host}"))


def connected_role(dsn: str) -> str:
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        row = conn.execute("SELECT current_user").fetchone()
    assert row is not None
    return str(row[0])


def application_role(owner_dsn: str, app_dsn: str) -> str | None:
    """The role the application logs in as, or None when it logs in as the owner (a single-role deployment,
    where nothing protects the audit log from the application)."""
    if app_dsn == owner_dsn:
        return None
    app_role = connected_role(app_dsn)
    return None if app_role == connected_role(owner_dsn) else app_role


def _check_separation(conn: psycopg.Connection, app_role: str) -> None:
    row = conn.execute(
        "SELECT rolsuper, pg_has_role(%s, current_user, 'MEMBER') FROM pg_roles WHERE rolname = %s",
        (app_role, app_role),
    ).fetchone()
    if row is None:
        raise RoleError(
            f"the application role {app_role!r} does not exist: create it (CREATE ROLE {app_role} LOGIN PASSWORD ...)"
        )
    superuser, member_of_owner = row
    if superuser:
        raise RoleError(f"the application role {app_role!r} is a superuser: it could alter the audit log")
    if member_of_owner:
        raise RoleError(
            f"the application role {app_role!r} is a member of the owner role: it could alter the audit log"
        )


def grant_application_role(conn: psycopg.Connection, app_role: str) -> None:
    """Gives `app_role` what the application needs, and no more, on every table of the schema (idempotent).

    Run as the owner, inside a transaction, after the migrations."""
    _check_separation(conn, app_role)
    role = sql.Identifier(app_role)
    database = conn.execute("SELECT current_database()").fetchone()
    assert database is not None
    statements = [
        sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(sql.Identifier(database[0]), role),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(role),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(role),
        sql.SQL("REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {}").format(role),
    ]
    revoke = sql.SQL("REVOKE INSERT, UPDATE, DELETE ON {} FROM {}")
    for table in (*_APPEND_ONLY, *_READ_ONLY):
        if _exists(conn, table):
            statements.append(revoke.format(sql.Identifier(table), role))
    for table in _APPEND_ONLY:
        if _exists(conn, table):
            statements.append(sql.SQL("GRANT INSERT ON {} TO {}").format(sql.Identifier(table), role))
    for function in _FUNCTIONS:
        if conn.execute("SELECT to_regprocedure(%s)", (function,)).fetchone() != (None,):
            statements.append(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(sql.SQL(function), role))
    for statement in statements:
        conn.execute(statement)


def _exists(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute("SELECT to_regclass(%s)", (f"public.{table}",)).fetchone() != (None,)


def audit_log_exposure(conn: psycopg.Connection) -> list[str] | None:
    """What the connected role could do to the audit log that the application role must not: empty when the
    separation holds, None when there is no audit log yet. Shown by `vsentinel doctor`, logged by every pool."""
    row = conn.execute(
        """
        SELECT r.rolsuper,
               pg_has_role(current_user, c.relowner, 'MEMBER'),
               has_table_privilege('public.audit_log', 'UPDATE'),
               has_table_privilege('public.audit_log', 'DELETE'),
               has_table_privilege('public.audit_log', 'TRUNCATE'),
               has_parameter_privilege('session_replication_role', 'SET')
        FROM pg_roles r, pg_class c
        WHERE r.rolname = current_user AND c.oid = to_regclass('public.audit_log')
        """
    ).fetchone()
    if row is None:
        return None
    names = ("is a superuser", "owns the audit log (can ALTER it and disable its triggers)", "may UPDATE it",
             "may DELETE from it", "may TRUNCATE it", "may set session_replication_role")  # fmt: skip
    return [name for name, held in zip(names, row, strict=True) if held]
