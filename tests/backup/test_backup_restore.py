"""Backup -> restore into a new, empty database: identical tables, the same API answers, a database that passes
the doctor's checks with the application role as restricted as after a migration; a non-empty database and a
corrupted backup are refused before anything is written. The backups go to a real S3-compatible server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from psycopg import sql

from deployments.api.app import create_app
from sentinel import artifact_store
from sentinel.auth.audit_chain import verify
from sentinel.backup.create import run_backup
from sentinel.backup.restore import RestoreError, database_contents, run_restore
from sentinel.backup.retention import list_backups
from sentinel.backup.settings import BackupSettings
from sentinel.backup.stores import S3Store, open_store
from sentinel.doctor import check_audit_log, check_postgres
from tests.api import seed
from tests.api.conftest import P_BUSY, P_QUIET, make_deps, seed_city
from tests.api.servers import running
from tests.conftest import database_with_roles, drop_database, migrated_database
from tests.foundation.test_db_roles import assert_cannot_tamper

pytestmark = pytest.mark.integration


def table_checksums(url: str) -> dict[str, tuple[int, str]]:
    """Per table of the public schema: row count and md5 of its rows in a fixed order; per sequence its state."""
    out: dict[str, tuple[int, str]] = {}
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )]  # fmt: skip
        for table in tables:
            query = sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {} t"
            )
            row = conn.execute(query.format(sql.Identifier(table))).fetchone()
            assert row is not None
            out[table] = (row[0], row[1])
        for (name,) in conn.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'").fetchall():
            state = conn.execute(
                sql.SQL("SELECT last_value, is_called FROM {}").format(sql.Identifier(name))
            ).fetchone()
            out[f"sequence {name}"] = (int(state[0]), str(state[1]))
    return out


@pytest.fixture
def source(pg_admin_url: str) -> Iterator[tuple[str, str, str]]:
    """A migrated database with the API tests' city, two organizations, a portfolio, a rule and audit rows."""
    name, owner_url, app_url = migrated_database(pg_admin_url, prefix="vs_bk_src")
    with psycopg.connect(app_url) as conn:
        seed_city(conn)
        for org in ("alpha", "beta"):
            seed.add_org(conn, org)
    yield name, owner_url, app_url
    drop_database(pg_admin_url, name)


@pytest.fixture
def target(pg_admin_url: str) -> Iterator[tuple[str, str, str]]:
    """An empty database and its own application role, as an operator would create for a restore drill."""
    name, owner_url, app_url = database_with_roles(pg_admin_url, prefix="vs_bk_dst")
    yield name, owner_url, app_url
    drop_database(pg_admin_url, name)


def fake_model(model_dir: Path, version: str = "2026-11-30") -> Path:
    artifact = model_dir / version / "overall"
    artifact.mkdir(parents=True)
    (artifact / "model.json").write_text(json.dumps({"trees": [1, 2, 3]}))
    (artifact / "meta.json").write_text(json.dumps({"kind": "overall", "version": version}))
    return artifact


class Session:
    """Logs in once per (org, role) against one app and fetches routes."""

    def __init__(self, url: str, deps: Any) -> None:
        self.url, self.deps, self._tokens = url, deps, {}

    def get(self, email: str, path: str, **params: Any) -> tuple[int, Any]:
        import httpx

        with httpx.Client(base_url=self.url, timeout=30) as client:
            if email not in self._tokens:
                r = client.post("/v1/auth/token", data={"username": email, "password": seed.PASSWORD})
                assert r.status_code == 200, r.text
                self._tokens[email] = r.json()["access_token"]
            r = client.get(path, params=params, headers={"Authorization": f"Bearer {self._tokens[email]}"})
        body = r.json()
        if isinstance(body, dict):
            body.pop("request_id", None)  # one per request, never the same twice
        return r.status_code, body


def api_answers(database_url: str, redis_url: str, redis_prefix: str, setup: bool) -> dict[str, Any]:
    """Answers of a sample of routes; with `setup`, first creates a portfolio and a rule through the API."""
    deps = make_deps(database_url, redis_url, redis_prefix=redis_prefix, auth_rate_limit="600/minute")
    answers: dict[str, Any] = {}
    try:
        with running(create_app(deps)) as url:
            s = Session(url, deps)
            admin, viewer, other = "admin@alpha.test", "viewer@alpha.test", "viewer@beta.test"
            if setup:
                import httpx

                with httpx.Client(base_url=url, timeout=30) as client:
                    token = client.post("/v1/auth/token", data={"username": admin, "password": seed.PASSWORD})
                    auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
                    made = client.post("/v1/portfolios", json={"name": "Downtown"}, headers=auth)
                    assert made.status_code == 201, made.text
                    pid = made.json()["id"]
                    added = client.post(
                        f"/v1/portfolios/{pid}/buildings", json={"bbls": [P_BUSY, P_QUIET]}, headers=auth
                    )
                    assert added.status_code in (200, 201), added.text
            status, portfolios = s.get(viewer, "/v1/portfolios")
            assert status == 200
            pid = portfolios[0]["id"]
            for name, (email, path, params) in {
                "search": (viewer, "/v1/properties", {"q": "100 broad"}),
                "property": (viewer, f"/v1/properties/{P_BUSY}", {}),
                "quiet property": (viewer, f"/v1/properties/{P_QUIET}", {}),
                "violations": (viewer, "/v1/violations", {"bbl": P_BUSY}),
                "complaints": (viewer, "/v1/complaints", {"bbl": P_BUSY}),
                "portfolios": (viewer, "/v1/portfolios", {}),
                "portfolio": (viewer, f"/v1/portfolios/{pid}", {}),
                "trends": (viewer, f"/v1/portfolios/{pid}/trends", {}),
                "users": (admin, "/v1/admin/users", {}),
                "organization": (admin, "/v1/admin/organization", {}),
                "other org's portfolio": (other, f"/v1/portfolios/{pid}", {}),
            }.items():
                answers[name] = s.get(email, path, **params)
    finally:
        deps.close()
    return answers


def test_backup_to_s3_then_restore_gives_identical_tables_and_api_answers(
    source, target, redis_url, s3_settings, s3_bucket, tmp_path
):
    _, src_owner, src_app = source
    dst_name, dst_owner, dst_app = target
    before_answers = api_answers(src_app, redis_url, "vs-bk-src", setup=True)
    assert before_answers["property"][0] == 200 and before_answers["other org's portfolio"][0] == 404
    models = tmp_path / "models"
    artifact = fake_model(models)
    with psycopg.connect(src_owner) as conn:
        conn.execute(
            "INSERT INTO models (score_kind, version, artifact_uri, params, metrics)"
            " VALUES ('overall', %s, %s, '{}', '{}')",
            ("2026-11-30", (artifact / "model.json").as_uri()),
        )
    before = table_checksums(src_owner)
    assert before["audit_log"][0] > 0 and before["portfolios"][0] == 1

    store = open_store(f"s3://{s3_bucket}/nightly", s3_settings)
    assert isinstance(store, S3Store)
    result = run_backup(src_owner, models, store, s3_settings)
    manifest = result.manifest
    assert [b.id for b in list_backups(store)] == [manifest.id]
    assert {f.name for f in manifest.files} == {
        "database.dump", "models/2026-11-30/overall/model.json", "models/2026-11-30/overall/meta.json"
    }  # fmt: skip
    assert manifest.schema_version == max(m for m in _migration_versions()) and manifest.database == source[0]
    # Written through the S3 protocol: the objects are in the bucket, the manifest among them.
    client = boto3.client("s3", endpoint_url=s3_settings.s3_endpoint_url, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]}
    assert f"nightly/{manifest.id}/manifest.json" in keys and f"nightly/{manifest.id}/database.dump" in keys

    restored_models = tmp_path / "restored-models"
    restored = run_restore(store, manifest.id, dst_owner, dst_app, restored_models, s3_settings)
    assert restored.database == dst_name and restored.app_role == f"{dst_name}_app"
    assert restored.models_restored == 2 and restored.artifact_paths_moved == 1
    after = table_checksums(dst_owner)
    assert after.keys() == before.keys()
    differing = [table for table in before if before[table] != after[table]]
    assert differing == ["models"]  # its artifact path now names the restored copy, nothing else changed
    with psycopg.connect(dst_owner) as conn:
        uri = conn.execute("SELECT artifact_uri FROM models").fetchone()[0]
    assert uri == (restored_models / "2026-11-30" / "overall" / "model.json").resolve().as_uri()
    path = artifact_store.fetch(uri, artifact_store.LocalStore(restored_models))
    assert path.read_bytes() == (artifact / "model.json").read_bytes()

    # The restored database passes the doctor's database checks, as the application role.
    for check in (check_postgres(dst_app), check_audit_log(dst_app)):
        assert check.ok, (check.name, check.detail)
    with psycopg.connect(dst_app) as conn:
        assert verify(conn).intact
        assert conn.execute("SELECT has_function_privilege('audit_chain_append(audit_log)', 'EXECUTE')").fetchone() == (
            False,
        )

    # A fresh Redis prefix: nothing cached from the first app can answer for the restored database.
    after_answers = api_answers(dst_app, redis_url, "vs-bk-dst", setup=False)
    assert after_answers == before_answers
    # The restored database keeps working: new audit rows chain on, the application role still cannot tamper.
    assert_cannot_tamper(dst_app)
    with psycopg.connect(dst_app) as conn:
        assert verify(conn).intact


def _migration_versions() -> list[int]:
    from sentinel.db import migrate

    return [m.version for m in migrate.discover()]


def test_restore_refuses_a_database_that_is_not_empty(source, pg_admin_url, s3_settings, s3_bucket, tmp_path):
    _, src_owner, _ = source
    store = open_store(f"s3://{s3_bucket}/nightly", s3_settings)
    backup = run_backup(src_owner, tmp_path / "models", store, s3_settings).manifest
    name, owner_url, app_url = migrated_database(pg_admin_url, prefix="vs_bk_full")
    try:
        with psycopg.connect(app_url) as conn:
            seed.add_org(conn, "already-here")
        before = table_checksums(owner_url)
        with pytest.raises(
            RestoreError, match=rf"database {name} is not empty \(\d+ objects: public\..*needs an empty"
        ):
            run_restore(store, backup.id, owner_url, app_url, tmp_path / "m2", s3_settings)
        assert table_checksums(owner_url) == before
    finally:
        drop_database(pg_admin_url, name)


@pytest.mark.parametrize("corrupted", ["database.dump", "models/2026-11-30/overall/model.json"])
def test_restore_refuses_a_corrupted_file_by_name_and_writes_nothing(
    corrupted, source, target, s3_settings, s3_bucket, tmp_path
):
    _, src_owner, _ = source
    _, dst_owner, dst_app = target
    fake_model(tmp_path / "models")
    store = open_store(f"s3://{s3_bucket}/nightly", s3_settings)
    assert isinstance(store, S3Store)
    backup = run_backup(src_owner, tmp_path / "models", store, s3_settings).manifest
    key = f"nightly/{backup.id}/{corrupted}"
    body = bytearray(store.client.get_object(Bucket=s3_bucket, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0xFF  # one flipped byte, same size
    store.client.put_object(Bucket=s3_bucket, Key=key, Body=bytes(body))

    with pytest.raises(RestoreError, match=rf"corrupted, nothing was restored: {corrupted} \(checksum mismatch"):
        run_restore(store, backup.id, dst_owner, dst_app, tmp_path / "restored-models", s3_settings)
    assert database_contents(dst_owner) == []
    assert not (tmp_path / "restored-models").exists()


def test_a_backup_without_its_manifest_cannot_be_restored(source, target, tmp_path):
    _, src_owner, _ = source
    _, dst_owner, dst_app = target
    store = open_store(str(tmp_path / "backups"), BackupSettings())
    backup = run_backup(src_owner, tmp_path / "models", store, BackupSettings()).manifest
    (tmp_path / "backups" / backup.id / "manifest.json").unlink()
    with pytest.raises(RestoreError, match="it did not finish"):
        run_restore(store, backup.id, dst_owner, dst_app, tmp_path / "m", BackupSettings())
    assert database_contents(dst_owner) == []
