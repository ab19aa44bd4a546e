"""`vsentinel backup`, `backup list`, `backup prune` and `restore` as an operator runs them: against configured
servers, and with nothing configured (the embedded PostgreSQL and its own pg_dump)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import database_with_roles, drop_database, migrated_database
from tests.foundation.test_cli import run_cli

pytestmark = pytest.mark.integration


@pytest.fixture
def databases(pg_admin_url: str) -> Iterator[tuple[tuple[str, str, str], tuple[str, str, str]]]:
    source = migrated_database(pg_admin_url, prefix="vs_bkcli_src")
    target = database_with_roles(pg_admin_url, prefix="vs_bkcli_dst")
    yield source, target
    drop_database(pg_admin_url, source[0])
    drop_database(pg_admin_url, target[0])


def test_backup_list_restore_and_refusals_from_the_command_line(databases, redis_url, tmp_path: Path) -> None:
    (_, src_owner, src_app), (dst_name, dst_owner, dst_app) = databases
    with psycopg.connect(src_app) as conn:
        conn.execute("INSERT INTO organizations (name) VALUES ('backed up')")
    env = {
        "VS_DATABASE_OWNER_URL": src_owner, "VS_DATABASE_URL": src_app, "VS_REDIS_URL": redis_url,
        "VS_DATA_DIR": str(tmp_path / "data"), "VS_BACKUP_DESTINATION": str(tmp_path / "backups"),
    }  # fmt: skip
    made = run_cli("backup", env=env)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("backup vs-") and "written to" in made.stdout

    listed = run_cli("backup", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)
    assert entry["complete"] and entry["manifest"]["database"] == databases[0][0]
    assert entry["manifest"]["tools"]["pg_dump"].startswith("pg_dump (PostgreSQL)")

    location = str(tmp_path / "backups" / entry["id"])
    restored = run_cli("restore", location, "--owner-url", dst_owner, "--database-url", dst_app, env=env)
    assert restored.returncode == 0, restored.stderr
    assert f"restored {entry['id']}" in restored.stdout and f"into {dst_name}" in restored.stdout
    assert "postgresql: healthy" in restored.stdout and "audit log: healthy" in restored.stdout
    with psycopg.connect(dst_app) as conn:
        assert conn.execute("SELECT name FROM organizations").fetchall() == [("backed up",)]

    again = run_cli("restore", "latest", "--owner-url", dst_owner, "--database-url", dst_app, env=env)
    assert again.returncode == 1
    assert f"error: database {dst_name} is not empty" in again.stderr and "Traceback" not in again.stderr

    pruned = run_cli("backup", "prune", "--keep-last", "1", env=env)
    assert pruned.returncode == 0 and "nothing to prune" in pruned.stdout

    unknown = run_cli("restore", "vs-19990101T000000Z", "--owner-url", dst_owner, env=env)
    assert unknown.returncode == 1 and "no such backup" in unknown.stderr


@pytest.fixture
def outside_pytest_tmp() -> Iterator[Path]:
    """A directory outside pytest's temp root: run as root, the embedded server runs as its own user, which must
    traverse every parent, and another pytest session on the machine resets that root to mode 0700."""
    with tempfile.TemporaryDirectory(prefix="vs-backup-embedded-") as path:
        yield Path(path)


@pytest.mark.slow
def test_embedded_postgres_backs_up_and_restores_into_another_data_directory(outside_pytest_tmp: Path) -> None:
    tmp_path = outside_pytest_tmp
    first = {"VS_DATA_DIR": str(tmp_path / "first")}
    assert run_cli("db", "upgrade", env=first).returncode == 0
    made = run_cli("backup", "--json", env=first)
    assert made.returncode == 0, made.stderr
    manifest = json.loads(made.stdout)["manifest"]
    # The embedded server's own pg_dump (the wheel's), whatever the machine's PostgreSQL client is.
    assert manifest["tools"]["pg_dump"].split()[2].split(".")[0] == manifest["server_version"].split(".")[0]

    second = {"VS_DATA_DIR": str(tmp_path / "second")}
    backup = str(tmp_path / "first" / "backups" / manifest["id"])
    restored = run_cli("restore", backup, env=second)
    assert restored.returncode == 0, restored.stderr
    assert "grants for vsentinel_app" in restored.stdout
    doctor = run_cli("doctor", "--no-ray", env=second)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
