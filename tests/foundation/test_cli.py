"""The `vsentinel` CLI: clear output, clear errors, non-zero exit codes on failure."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
from psycopg import sql

from tests.conftest import app_role_of, create_database, database_url_for, database_with_roles, drop_database, free_port

pytestmark = pytest.mark.integration


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VS_")}
    full_env.update({"COLUMNS": "200", **env})
    return subprocess.run(
        [sys.executable, "-m", "cluster.cli", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_db_upgrade_then_status_on_a_fresh_database(pg_admin_url, redis_url):
    name, owner_url, app_url = database_with_roles(pg_admin_url, prefix="vs_cli")
    try:
        env = {"VS_DATABASE_OWNER_URL": owner_url, "VS_DATABASE_URL": app_url, "VS_REDIS_URL": redis_url}
        before = run_cli("db", "status", env=env)
        assert before.returncode == 1
        assert "schema version: none of" in before.stdout
        upgraded = run_cli("db", "upgrade", env=env)
        assert upgraded.returncode == 0, upgraded.stderr
        assert "applied 0001 city_data" in upgraded.stdout
        assert "warning" not in upgraded.stderr
        after = run_cli("db", "status", env=env)
        assert after.returncode == 0
        assert "pending" not in after.stdout
        with psycopg.connect(app_url) as conn:
            assert conn.execute("SELECT count(*) FROM violations").fetchone() == (0,)  # granted to the app role
    finally:
        drop_database(pg_admin_url, name)


def test_db_upgrade_with_one_url_for_owner_and_application_warns(pg_admin_url, redis_url):
    name = create_database(pg_admin_url, prefix="vs_cli")
    try:
        env = {"VS_DATABASE_URL": database_url_for(pg_admin_url, name), "VS_REDIS_URL": redis_url}
        upgraded = run_cli("db", "upgrade", env=env)
        assert upgraded.returncode == 0, upgraded.stderr
        assert "the application logs in as the schema owner" in " ".join(upgraded.stderr.split())
    finally:
        drop_database(pg_admin_url, name)


def test_db_upgrade_refuses_a_superuser_as_the_application_role(pg_admin_url, redis_url):
    name, owner_url, app_url = database_with_roles(pg_admin_url, prefix="vs_cli")
    try:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER ROLE {} SUPERUSER").format(sql.Identifier(app_role_of(name))))
        env = {"VS_DATABASE_OWNER_URL": owner_url, "VS_DATABASE_URL": app_url, "VS_REDIS_URL": redis_url}
        refused = run_cli("db", "upgrade", env=env)
        assert refused.returncode == 1
        assert "is a superuser" in refused.stderr
    finally:
        drop_database(pg_admin_url, name)


def test_bad_settings_exit_2_and_name_the_variable():
    result = run_cli("doctor", env={"VS_RAY_NUM_CPUS": "many"})
    assert result.returncode == 2
    assert "VS_RAY_NUM_CPUS='many'" in result.stderr


def test_doctor_reports_an_unreachable_database_and_fails(redis_url):
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    result = run_cli("doctor", "--no-ray", env={"VS_DATABASE_URL": dead, "VS_REDIS_URL": redis_url})
    assert result.returncode == 1
    assert "FAILING" in result.stdout
    assert "some services are unhealthy" in result.stderr


def test_doctor_reports_postgres_redis_and_ray_healthy(database_url, redis_url):
    env = {
        "VS_DATABASE_URL": database_url,
        "VS_REDIS_URL": redis_url,
        "VS_RAY_NUM_CPUS": "1",
        "VS_RAY_OBJECT_STORE_MB": "100",
        "VS_RAY_INCLUDE_DASHBOARD": "false",
    }
    result = run_cli("doctor", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    for service in ("postgresql", "redis", "ray"):
        assert service in result.stdout
    assert "FAILING" not in result.stdout
    assert "schema_version=" in result.stdout


def test_doctor_fails_when_the_application_logs_in_as_the_owner(owner_database_url, redis_url):
    result = run_cli("doctor", "--no-ray", env={"VS_DATABASE_URL": owner_database_url, "VS_REDIS_URL": redis_url})
    assert result.returncode == 1
    audit_row = next(line for line in result.stdout.splitlines() if "audit log" in line)
    assert "FAILING" in audit_row and "superuser" in audit_row


def test_org_create_makes_an_admin_who_can_log_in_and_refuses_duplicates(pg_admin_url, redis_url):
    from sentinel.auth.passwords import verify_password

    name, owner_url, url = database_with_roles(pg_admin_url, prefix="vs_cli")
    try:
        env = {"VS_DATABASE_OWNER_URL": owner_url, "VS_DATABASE_URL": url, "VS_REDIS_URL": redis_url,
               "VS_ADMIN_PASSWORD": "a long admin password"}  # fmt: skip
        assert run_cli("db", "upgrade", env=env).returncode == 0
        created = run_cli("org", "create", "Acme Housing", "--admin-email", "ops@acme.test", env=env)
        assert created.returncode == 0, created.stderr
        assert "'Acme Housing' created" in created.stdout
        with psycopg.connect(url) as conn:
            role, stored_hash, org = conn.execute(
                "SELECT u.role, u.password_hash, o.name FROM users u JOIN organizations o ON o.id = u.org_id "
                "WHERE u.email = 'ops@acme.test'"
            ).fetchone()
            audited = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'organization.create'").fetchone()
        assert (role, org) == ("admin", "Acme Housing")
        assert stored_hash.startswith("$argon2") and verify_password("a long admin password", stored_hash)
        assert audited == (1,)

        # An e-mail is unique per organization (migration 0017): another organization may have its own account.
        same_email = run_cli("org", "create", "Other Org", "--admin-email", "OPS@acme.test", env=env)
        assert same_email.returncode == 0, same_email.stderr
        same_name = run_cli("org", "create", "Acme Housing", "--admin-email", "two@acme.test", env=env)
        assert same_name.returncode == 1 and "already exists" in same_name.stderr
        short = run_cli("org", "create", "Tiny", "--admin-email", "t@t.test", env={**env, "VS_ADMIN_PASSWORD": "short"})
        assert short.returncode == 2 and "at least 12 characters" in short.stderr
        weak = {**env, "VS_ADMIN_PASSWORD": "password1234"}
        common = run_cli("org", "create", "Tiny", "--admin-email", "t@t.test", env=weak)
        assert common.returncode == 2 and "too easy to guess: this is a very common password" in common.stderr
        bad_zone = run_cli("org", "create", "Zoned", "--admin-email", "z@z.test", "--timezone", "Mars/Olympus", env=env)
        assert bad_zone.returncode == 2 and "IANA time zone" in bad_zone.stderr
    finally:
        drop_database(pg_admin_url, name)


@pytest.mark.parametrize(
    ("secret", "reason"),
    [("too-short-secret", "at least 32 bytes"), ("changeme" * 5, "guessable"), ("a" * 48, "guessable")],
)
def test_a_weak_jwt_secret_stops_the_program_at_start_naming_the_variable(
    database_url: str, redis_url: str, secret: str, reason: str
) -> None:
    """Issue 16: a short VS_JWT_SECRET started, then every login was a 500."""
    env = {"VS_DATABASE_URL": database_url, "VS_REDIS_URL": redis_url, "VS_JWT_SECRET": secret}
    result = run_cli("db", "status", env=env)
    assert result.returncode == 2
    assert "VS_JWT_SECRET" in result.stderr and reason in result.stderr
    assert secret not in result.stderr  # the value is never printed
    assert run_cli("db", "status", env={**env, "VS_JWT_SECRET": "Zq3vK9pL2xW8rT5nB7mC4hJ6gF1dS0aQ"}).returncode == 0
