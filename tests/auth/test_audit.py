"""The audit writer against the real PostgreSQL schema, whose triggers keep the log append-only."""

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors

from sentinel.auth.audit import record_audit

pytestmark = pytest.mark.integration


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def test_record_audit_appends_a_row_with_bound_parameters(conn: psycopg.Connection) -> None:
    request_id = f"req-{uuid.uuid4().hex}"
    hostile = "x'); DELETE FROM audit_log; --"
    with conn.transaction():
        audit_id = record_audit(
            conn,
            org_id=None,
            actor="user:1",
            action="api_key.create",
            target=hostile,
            details={"name": "ci key", "scopes": ["risk:read"], "note": hostile},
            request_id=request_id,
        )
    row = conn.execute(
        "SELECT org_id, actor, action, target, details, request_id, at FROM audit_log WHERE id = %s",
        (audit_id,),
    ).fetchone()
    assert row is not None
    assert row[:6] == (
        None,
        "user:1",
        "api_key.create",
        hostile,
        {"name": "ci key", "scopes": ["risk:read"], "note": hostile},
        request_id,
    )
    assert row[6] is not None


def test_audit_entry_rolls_back_with_the_change_it_records(conn: psycopg.Connection) -> None:
    request_id = f"req-{uuid.uuid4().hex}"

    class ChangeFailedError(Exception):
        pass

    def change_that_fails() -> None:
        with conn.transaction():
            record_audit(
                conn,
                org_id=None,
                actor="user:2",
                action="user.delete",
                target="user:3",
                details=None,
                request_id=request_id,
            )
            raise ChangeFailedError

    with pytest.raises(ChangeFailedError):
        change_that_fails()
    count = conn.execute("SELECT count(*) FROM audit_log WHERE request_id = %s", (request_id,)).fetchone()
    assert count == (0,)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'forged' WHERE id = %s",
        "DELETE FROM audit_log WHERE id = %s",
    ],
)
def test_audit_rows_cannot_be_changed_or_deleted(
    conn: psycopg.Connection, owner_database_url: str, statement: str
) -> None:
    audit_id = record_audit(conn, org_id=None, actor="user:1", action="login", target=None, details={}, request_id=None)
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied for table audit_log"):
        conn.execute(statement, (audit_id,))
    # The owner is stopped by the triggers (which only it could disable).
    with (
        psycopg.connect(owner_database_url, autocommit=True) as owner,
        pytest.raises(errors.InsufficientPrivilege, match="append-only"),
    ):
        owner.execute(statement, (audit_id,))
    action = conn.execute("SELECT action FROM audit_log WHERE id = %s", (audit_id,)).fetchone()
    assert action == ("login",)


def test_audit_log_cannot_be_truncated(conn: psycopg.Connection, owner_database_url: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied for table audit_log"):
        conn.execute("TRUNCATE audit_log")
    with (
        psycopg.connect(owner_database_url, autocommit=True) as owner,
        pytest.raises(errors.InsufficientPrivilege, match="append-only"),
    ):
        owner.execute("TRUNCATE audit_log")
