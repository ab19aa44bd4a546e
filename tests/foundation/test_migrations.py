"""The schema: migrations apply to an empty database, are idempotent, and the constraints hold."""

from __future__ import annotations

import hashlib

import psycopg
import pytest

from sentinel.db import migrate

pytestmark = pytest.mark.integration

TABLES = {
    "properties",
    "buildings",
    "violations",
    "complaints",
    "status_history",
    "rejects",
    "ingestion_runs",
    "watermarks",
    "risk_scores",
    "models",
    "organizations",
    "users",
    "api_keys",
    "portfolios",
    "portfolio_buildings",
    "alert_rules",
    "alerts",
    "notifications",
    "audit_log",
    "registrations",
    "registration_contacts",
    "schedule_runs",
    "schema_migrations",
}


def test_migrations_apply_to_an_empty_database_and_a_second_run_applies_nothing(empty_database_url):
    first = migrate.upgrade(empty_database_url)
    assert [m.version for m in first] == [m.version for m in migrate.discover()]
    assert migrate.upgrade(empty_database_url) == []
    state = migrate.status(empty_database_url)
    assert state.up_to_date and state.current == state.latest


def test_every_canonical_table_exists(db):
    rows = db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    assert {r[0] for r in rows} >= TABLES


def test_source_keys_are_unique(db):
    insert = (
        "INSERT INTO violations (source, source_id, severity, status, raw, content_hash) "
        "VALUES ('HPD', 'dup-1', 'hazardous', 'open', '{}', 'h')"
    )
    with db.transaction(force_rollback=True):
        db.execute(insert)
        with pytest.raises(psycopg.errors.UniqueViolation):
            db.execute(insert)


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        (
            "INSERT INTO violations (source, source_id, severity, status, raw, content_hash) "
            "VALUES ('HPD', 'x', 'catastrophic', 'open', '{}', 'h')",
            psycopg.errors.CheckViolation,
        ),
        (
            "INSERT INTO violations (source, source_id, severity, status, raw, content_hash) "
            "VALUES ('HPD', 'x', 'hazardous', 'pending', '{}', 'h')",
            psycopg.errors.CheckViolation,
        ),
        (
            "INSERT INTO properties (bbl, borough, block, lot) VALUES ('6000010001', 1, 1, 1)",
            psycopg.errors.CheckViolation,
        ),
        ("INSERT INTO buildings (bin) VALUES ('1000')", psycopg.errors.CheckViolation),
        (
            "INSERT INTO users (org_id, email, password_hash, role) VALUES (NULL, 'a@b.c', '$argon2id$x', 'admin')",
            psycopg.errors.NotNullViolation,
        ),
        (
            "INSERT INTO risk_scores (bbl, as_of, overall, safety, legal, financial, p_overall, p_safety, "
            "p_legal, p_financial, trend, model_versions) "
            "VALUES ('1000010001', '2026-01-01', 101, 0, 0, 0, 0.1, 0.1, 0.1, 0.1, 'up', '{}')",
            psycopg.errors.CheckViolation,
        ),
    ],
    ids=[
        "severity-vocabulary",
        "status-vocabulary",
        "bbl-shape",
        "bin-shape",
        "user-needs-org",
        "score-range",
    ],
)
def test_constraints_refuse_bad_rows(db, statement, error):
    with db.transaction(force_rollback=True), pytest.raises(error):
        db.execute(statement)


def test_passwords_must_be_argon2_hashes(db):
    with db.transaction(force_rollback=True):
        org = db.execute("INSERT INTO organizations (name) VALUES ('pw-org') RETURNING id").fetchone()[0]
        with pytest.raises(psycopg.errors.CheckViolation):
            db.execute(
                "INSERT INTO users (org_id, email, password_hash, role) VALUES (%s, 'a@b.c', 'plain', 'admin')",
                (org,),
            )


def test_only_one_model_per_score_can_be_active(db):
    with db.transaction(force_rollback=True):
        db.execute(
            "INSERT INTO models (score_kind, version, artifact_uri, is_active) VALUES ('safety', 'v1', '/a', true)"
        )
        with pytest.raises(psycopg.errors.UniqueViolation):
            db.execute(
                "INSERT INTO models (score_kind, version, artifact_uri, is_active) VALUES ('safety', 'v2', '/b', true)"
            )


def test_an_alert_exists_once_per_rule_building_and_trigger(db):
    with db.transaction(force_rollback=True):
        org = db.execute("INSERT INTO organizations (name) VALUES ('alert-org') RETURNING id").fetchone()[0]
        rule = db.execute(
            "INSERT INTO alert_rules (org_id, name, condition, scope) VALUES (%s, 'r', '{}', '{}') RETURNING id",
            (org,),
        ).fetchone()[0]
        insert = (
            "INSERT INTO alerts (rule_id, org_id, bbl, trigger_key, title) "
            "VALUES (%s, %s, '1000010001', 'violation:HPD:1:new', 't')"
        )
        db.execute(insert, (rule, org))
        with pytest.raises(psycopg.errors.UniqueViolation):
            db.execute(insert, (rule, org))


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET action = 'tampered'", "DELETE FROM audit_log", "TRUNCATE audit_log"],
    ids=["update", "delete", "truncate"],
)
def test_the_audit_log_refuses_update_delete_and_truncate_even_to_its_owner(owner_database_url, statement):
    with psycopg.connect(owner_database_url, autocommit=True) as owner:
        owner.execute("INSERT INTO audit_log (actor, action) VALUES ('test', 'login')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            owner.execute(statement)


def test_the_queries_of_later_issues_have_their_indexes(db):
    rows = db.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'").fetchall()
    names = {r[0] for r in rows}
    for index in (
        "violations_bbl_idx",
        "violations_bin_idx",
        "violations_last_run_idx",
        "complaints_bbl_idx",
        "buildings_bbl_idx",
        "violations_source_source_id_key",
        "complaints_source_source_id_key",
        "alerts_org_feed_idx",
        "notifications_due_idx",
    ):
        assert index in names


def test_a_failing_migration_leaves_nothing_half_applied(empty_database_url, tmp_path):
    for migration in migrate.discover():
        (tmp_path / migration.path.name).write_text(migration.sql())
    (tmp_path / "9999_broken.sql").write_text("CREATE TABLE half_done (id int); SELECT no_such_function();")
    with pytest.raises(psycopg.errors.UndefinedFunction):
        migrate.upgrade(empty_database_url, tmp_path)
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT to_regclass('half_done')").fetchone()[0] is None
        assert 9999 not in migrate.applied_versions(conn)
        assert migrate.applied_versions(conn) == {m.version for m in migrate.discover()}


def copy_of_migrations(directory):
    for migration in migrate.discover():
        (directory / migration.path.name).write_bytes(migration.path.read_bytes())
    return migrate.discover(directory)


def recorded_checksums(url: str) -> dict[int, str | None]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())


def test_each_applied_file_is_recorded_with_its_sha256(empty_database_url):
    migrate.upgrade(empty_database_url)
    expected = {m.version: hashlib.sha256(m.path.read_bytes()).hexdigest() for m in migrate.discover()}
    assert len(expected) >= 19
    assert recorded_checksums(empty_database_url) == expected


def test_an_edited_applied_file_is_refused_by_name_and_nothing_runs(empty_database_url, tmp_path):
    copies = copy_of_migrations(tmp_path)
    migrate.upgrade(empty_database_url, tmp_path)
    edited = copies[2]
    edited.path.write_text(edited.sql() + "\n-- a later tweak\n")
    (tmp_path / "9999_next.sql").write_text("CREATE TABLE next_one (id int);")

    with pytest.raises(migrate.EditedMigrationError) as caught:
        migrate.upgrade(empty_database_url, tmp_path)
    assert str(edited.path) in str(caught.value)
    assert [m.version for m in caught.value.edited] == [edited.version]
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT to_regclass('next_one')").fetchone()[0] is None
    state = migrate.status(empty_database_url, tmp_path)
    assert [m.version for m in state.edited] == [edited.version] and not state.up_to_date


def test_a_ledger_from_before_checksums_gets_them_recorded_then_guards_the_files(empty_database_url, tmp_path):
    copies = copy_of_migrations(tmp_path)
    migrate.upgrade(empty_database_url, tmp_path)
    with psycopg.connect(empty_database_url) as conn:
        conn.execute("ALTER TABLE schema_migrations DROP COLUMN checksum")
    assert migrate.status(empty_database_url, tmp_path).up_to_date  # no checksums yet: nothing to compare

    assert migrate.upgrade(empty_database_url, tmp_path) == []
    recorded = recorded_checksums(empty_database_url)
    assert len(recorded) == len(copies)
    assert recorded == {m.version: m.checksum() for m in copies}

    copies[0].path.write_text(copies[0].sql().replace("CREATE", "create", 1))
    with pytest.raises(migrate.EditedMigrationError, match=copies[0].path.name):
        migrate.upgrade(empty_database_url, tmp_path)
