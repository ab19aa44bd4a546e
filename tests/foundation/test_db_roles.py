"""The application role can use the data but cannot alter, rewrite or switch off the audit log; the owner can."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from sentinel.auth.audit import record_audit
from sentinel.db.roles import audit_log_exposure

pytestmark = pytest.mark.integration

TAMPERING = {
    "disable one trigger": "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete",
    "disable every trigger": "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "disable the chain": "ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain",
    "update": "UPDATE audit_log SET action = 'forged'",
    "delete": "DELETE FROM audit_log",
    "truncate": "TRUNCATE audit_log",
    "replica mode": "SET session_replication_role = replica",
    "drop": "DROP TABLE audit_log",
    "rename": "ALTER TABLE audit_log RENAME TO old_audit_log",
    "rewrite a link": "UPDATE audit_chain SET row_hash = row_hash",
    "forge a link": "INSERT INTO audit_chain VALUES (999999, 999999, '\\x00', '\\x00')",
    "rewind the head": "UPDATE audit_chain_head SET seq = 0",
    "replace the chain function": "CREATE OR REPLACE FUNCTION audit_log_link() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
    "create a table": "CREATE TABLE shadow_audit (id int)",
}


def assert_cannot_tamper(app_url: str) -> None:
    """Every way to change or silence the audit log fails for the role `app_url` logs in as, and audit rows can
    still be written."""
    with psycopg.connect(app_url, autocommit=True) as conn:
        record_audit(conn, org_id=None, actor="user:1", action="roles.check", target=None, details={}, request_id=None)
        before = conn.execute("SELECT count(*), max(id) FROM audit_log").fetchone()
        refused = []
        for name, statement in TAMPERING.items():
            try:
                conn.execute(statement)
            except errors.InsufficientPrivilege:
                refused.append(name)
        assert refused == list(TAMPERING)  # a missing name is a statement that was allowed
        assert conn.execute("SHOW session_replication_role").fetchone() == ("origin",)
        assert conn.execute("SELECT count(*), max(id) FROM audit_log").fetchone() == before
        assert audit_log_exposure(conn) == []


def test_the_application_role_cannot_alter_rewrite_or_silence_the_audit_log(database_url: str) -> None:
    assert_cannot_tamper(database_url)


def test_the_application_role_reads_and_writes_the_data(database_url: str) -> None:
    with psycopg.connect(database_url) as conn, conn.transaction(force_rollback=True):
        org = conn.execute("INSERT INTO organizations (name) VALUES ('roles check') RETURNING id").fetchone()[0]
        conn.execute("UPDATE organizations SET name = 'roles check 2' WHERE id = %s", (org,))
        conn.execute("DELETE FROM organizations WHERE id = %s", (org,))
        conn.execute("CREATE TEMP TABLE scratch (x int)")  # the ingestion stages through temporary tables
        conn.execute("SELECT analyze_table('violations')")  # ANALYZE through the owner's function
        with pytest.raises(errors.InsufficientPrivilege, match="not a table of the public schema"):
            conn.execute("SELECT analyze_table('pg_catalog.pg_authid')")


def test_the_owner_is_reported_as_able_to_rewrite_the_audit_log(owner_database_url: str) -> None:
    with psycopg.connect(owner_database_url) as conn:
        exposure = audit_log_exposure(conn)
    assert exposure is not None and "is a superuser" in exposure
