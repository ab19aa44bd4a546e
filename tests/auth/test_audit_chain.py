"""The audit log's hash chain: concurrent writers keep one chain, and every edit, deletion or insertion made
behind the triggers' back by the owner is reported at the row it touched (`vsentinel audit verify`)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from sentinel.auth.audit import record_audit
from sentinel.auth.audit_chain import GENESIS, link_hash, parse_anchor, verify
from tests.conftest import drop_database, migrated_database

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class AuditDb:
    owner_url: str
    app_url: str


@pytest.fixture
def audit_db(pg_admin_url: str) -> Iterator[AuditDb]:
    """A database of its own: these tests break its chain on purpose."""
    name, owner_url, app_url = migrated_database(pg_admin_url, prefix="vs_audit")
    yield AuditDb(owner_url, app_url)
    drop_database(pg_admin_url, name)


def write(app_url: str, count: int, actor: str = "user:1") -> list[int]:
    with psycopg.connect(app_url, autocommit=True) as conn:
        return [
            record_audit(conn, org_id=None, actor=actor, action="auth.login", target=f"user:{i}",
                         details={"ip": "203.0.113.9", "n": i, "note": "é ✓ \"quoted\""}, request_id=f"r{i}")
            for i in range(count)
        ]  # fmt: skip


def report(url: str, anchor: str | None = None):
    with psycopg.connect(url) as conn:
        return verify(conn, parse_anchor(anchor) if anchor else None)


def as_owner_behind_the_triggers(owner_url: str, statement: str, *params: object) -> None:
    """What the application role cannot do: replica mode skips every ordinary trigger (append-only and chain)."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(statement, params)


def run_cli(*args: str, db: AuditDb) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VS_")}
    env.update({"VS_DATABASE_OWNER_URL": db.owner_url, "VS_DATABASE_URL": db.app_url, "COLUMNS": "200"})
    return subprocess.run([sys.executable, "-m", "cluster.cli", "audit", "verify", *args], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_the_python_verifier_computes_the_same_hash_as_the_database(audit_db: AuditDb) -> None:
    (audit_id,) = write(audit_db.app_url, 1)
    with psycopg.connect(audit_db.app_url) as conn:
        fields = conn.execute(
            "SELECT c.seq, c.row_hash, a.id::text, to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),"
            " a.org_id::text, a.actor, a.action,"
            " a.target, a.details::text, a.request_id FROM audit_chain c JOIN audit_log a ON a.id = c.audit_id"
            " WHERE a.id = %s",
            (audit_id,),
        ).fetchone()
    seq, stored, *values = fields
    assert seq == 1
    assert link_hash(GENESIS, seq, values) == bytes(stored)
    assert link_hash(GENESIS, seq, [*values[:-1], "other"]) != bytes(stored)


def test_a_clean_log_verifies_and_the_cli_prints_its_head(audit_db: AuditDb) -> None:
    ids = write(audit_db.app_url, 5)
    clean = report(audit_db.app_url)
    assert clean.intact and clean.links == 5 and clean.head_seq == 5
    result = run_cli(db=audit_db)
    assert result.returncode == 0, result.stderr
    assert f"audit log intact: {len(ids)} rows chained; head {clean.head}" in result.stdout


def test_concurrent_writers_keep_one_chain_and_rolled_back_rows_leave_no_link(audit_db: AuditDb) -> None:
    rng = random.Random(16)
    plans = [[rng.random() < 0.2 for _ in range(30)] for _ in range(8)]  # True: roll that transaction back
    committed = 2 * sum(not rollback for plan in plans for rollback in plan)  # two rows a transaction
    errors: list[BaseException] = []
    start = threading.Barrier(len(plans))

    def writer(worker: int, plan: list[bool]) -> None:
        try:
            with psycopg.connect(audit_db.app_url) as conn:
                start.wait(timeout=60)
                for n, rollback in enumerate(plan):
                    with conn.transaction(force_rollback=rollback):
                        record_audit(conn, org_id=None, actor=f"user:{worker}", action="auth.login",
                                     target=None, details={"n": n}, request_id=None)  # fmt: skip
                        record_audit(conn, org_id=None, actor=f"user:{worker}", action="auth.refresh",
                                     target=None, details={"n": n}, request_id=None)  # fmt: skip
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(i, plan)) for i, plan in enumerate(plans)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    chain = report(audit_db.app_url)
    assert chain.intact, chain.first_break
    assert chain.links == chain.head_seq == committed
    with psycopg.connect(audit_db.app_url) as conn:
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == (committed,)


def test_an_owner_edit_is_reported_at_the_edited_row(audit_db: AuditDb) -> None:
    ids = write(audit_db.app_url, 6)
    as_owner_behind_the_triggers(audit_db.owner_url, "UPDATE audit_log SET details = '{}' WHERE id = %s", ids[3])
    broken = report(audit_db.app_url).first_break
    assert broken is not None and (broken.seq, broken.audit_id) == (4, ids[3])
    assert broken.reason == "the audit row was changed"
    result = run_cli(db=audit_db)
    assert result.returncode == 1
    assert f"link 4, audit row {ids[3]}: the audit row was changed" in " ".join(result.stderr.split())


def test_an_owner_deletion_is_reported_at_the_deleted_row(audit_db: AuditDb) -> None:
    ids = write(audit_db.app_url, 6)
    as_owner_behind_the_triggers(audit_db.owner_url, "DELETE FROM audit_log WHERE id = %s", ids[2])
    broken = report(audit_db.app_url).first_break
    assert broken is not None and (broken.seq, broken.audit_id) == (3, ids[2])
    assert broken.reason == "the audit row was deleted"


def test_deleting_a_row_with_its_link_breaks_the_next_link(audit_db: AuditDb) -> None:
    ids = write(audit_db.app_url, 6)
    as_owner_behind_the_triggers(audit_db.owner_url, "DELETE FROM audit_log WHERE id = %s", ids[2])
    as_owner_behind_the_triggers(audit_db.owner_url, "DELETE FROM audit_chain WHERE audit_id = %s", ids[2])
    broken = report(audit_db.app_url).first_break
    assert broken is not None and (broken.seq, broken.audit_id) == (4, ids[3])
    assert "missing" in broken.reason


def test_an_owner_insertion_is_reported_at_the_inserted_row(audit_db: AuditDb) -> None:
    write(audit_db.app_url, 3)
    with psycopg.connect(audit_db.owner_url, autocommit=True) as conn:  # the other way around the triggers
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain")
        forged = conn.execute(
            "INSERT INTO audit_log (actor, action) VALUES ('user:1', 'api_key.revoke') RETURNING id"
        ).fetchone()[0]
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_chain")
    write(audit_db.app_url, 2)  # later rows chain normally: the forged one stays outside
    chain = report(audit_db.app_url)
    assert chain.links == 5
    assert chain.first_break is not None and (chain.first_break.seq, chain.first_break.audit_id) == (None, forged)
    result = run_cli(db=audit_db)
    assert result.returncode == 1 and f"audit row {forged}: the audit row is not in the chain" in result.stderr


def test_a_forged_link_in_the_middle_is_reported(audit_db: AuditDb) -> None:
    ids = write(audit_db.app_url, 4)
    as_owner_behind_the_triggers(
        audit_db.owner_url, "UPDATE audit_chain SET prev_hash = sha256(prev_hash) WHERE audit_id = %s", ids[1]
    )
    broken = report(audit_db.app_url).first_break
    assert broken is not None and (broken.seq, broken.audit_id) == (2, ids[1])
    assert broken.reason == "does not follow the previous link"


def test_dropping_the_newest_rows_is_caught_by_the_head_and_a_rewound_head_by_an_anchor(audit_db: AuditDb) -> None:
    ids = write(audit_db.app_url, 5)
    anchor = report(audit_db.app_url).head
    assert report(audit_db.app_url, anchor).anchor_found is True
    for statement in ("DELETE FROM audit_log WHERE id = %s", "DELETE FROM audit_chain WHERE audit_id = %s"):
        as_owner_behind_the_triggers(audit_db.owner_url, statement, ids[-1])
    tail = report(audit_db.app_url).first_break
    assert tail is not None and "the chain ends at link 4, but its head says 5:" in tail.reason

    as_owner_behind_the_triggers(
        audit_db.owner_url,
        "UPDATE audit_chain_head SET (seq, row_hash) = (SELECT seq, row_hash FROM audit_chain WHERE seq = 4)",
    )
    rewound = report(audit_db.app_url, anchor)
    assert rewound.first_break is None and rewound.anchor_found is False and not rewound.intact
    result = run_cli("--anchor", anchor, db=audit_db)
    assert result.returncode == 1 and f"the anchor {anchor} is not in the chain" in " ".join(result.stderr.split())


def test_a_malformed_anchor_is_refused_with_exit_2(audit_db: AuditDb) -> None:
    result = run_cli("--anchor", "five:xyz", db=audit_db)
    assert result.returncode == 2 and "SEQ:HASH" in result.stderr
