"""Models go through one artifact store, addressed by URI: a local folder or an S3 bucket every node reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import psycopg
import pytest

from sentinel import artifact_store
from sentinel.artifact_store import LocalStore, S3Store, open_store
from sentinel.db import migrate
from sentinel.risk import artifacts, registry, scoring
from sentinel.risk.calibration import Calibrator, Percentiles
from sentinel.risk.dataset import FeatureSpec
from sentinel.settings import load_settings
from tests.conftest import database_with_roles, drop_database, migrated_database
from tests.s3 import running_s3


def _save_baseline(directory: Path, kind: str, version: str) -> Path:
    spec = FeatureSpec(numeric=("open_total",), categories={})
    calibrator = Calibrator(x=(0.0, 1.0), y=(0.0, 1.0))
    return artifacts.save(directory, kind, version, None, spec, calibrator, Percentiles.of(np.arange(10.0)), {})


def test_a_file_store_round_trips_under_file_uris(tmp_path):
    store = open_store(tmp_path / "models with space", tmp_path / "cache")
    assert isinstance(store, LocalStore)
    uri = store.put_dir(_save_baseline(tmp_path / "staging", "overall", "v1"), "v1/overall")
    assert uri.startswith("file:///") and uri.endswith("/models%20with%20space/v1/overall")
    assert artifacts.load(artifact_store.fetch(uri, store)).version == "v1"
    assert store.read_bytes(store.uri("v1/none.md")) is None


def test_rows_from_before_uris_stay_readable(tmp_path):
    store = LocalStore(tmp_path)
    _save_baseline(tmp_path, "overall", "old")
    absolute = str(tmp_path / "old" / "overall")
    assert artifact_store.fetch(absolute, store) == Path(absolute)
    assert artifact_store.fetch("old/overall", store) == tmp_path / "old" / "overall"  # relative to the model dir


def test_an_unknown_scheme_stops_the_settings():
    with pytest.raises(Exception, match="VS_ARTIFACT_STORE"):
        load_settings(artifact_store="gs://bucket/models")


@pytest.mark.integration
def test_a_model_written_to_a_bucket_loads_on_a_machine_that_never_saw_it(tmp_path, pg_admin_url):
    name, owner_url, _ = migrated_database(pg_admin_url, "vs_test_store")
    try:
        with running_s3() as s3:
            root = s3.bucket("vs-models") + "/prod"
            trainer = S3Store(root, tmp_path / "trainer-cache", s3.client())
            with psycopg.connect(owner_url) as conn:
                for kind in registry.SCORE_KINDS:
                    uri = trainer.put_dir(_save_baseline(tmp_path / "staging", kind, "v7"), f"v7/{kind}")
                    assert uri == f"s3://vs-models/prod/v7/{kind}"
                    registry.register(conn, kind, "v7", uri, {}, {}, scorer="baseline")
                    registry.promote(conn, kind, "v7")
                conn.commit()
                shutil.rmtree(tmp_path / "staging")  # nothing of the trainer's disk is left to read

                server = S3Store(root, tmp_path / "server-cache", s3.client())
                loaded = scoring.require_active_models(conn, server)
                assert loaded.versions == dict.fromkeys(registry.SCORE_KINDS, "v7")
                assert all(model.scorer == "baseline" for model in loaded.models.values())
                # Downloaded once: a second load reads the cache, even with the bucket gone.
                s3.client().delete_object(Bucket="vs-models", Key="prod/v7/overall/meta.json")
                assert scoring.require_active_models(conn, server).versions["overall"] == "v7"
                with pytest.raises(FileNotFoundError):
                    S3Store(root, tmp_path / "third-cache", s3.client()).local_dir(f"{root}/v8/overall")
    finally:
        drop_database(pg_admin_url, name)


@pytest.mark.integration
def test_migration_0021_turns_absolute_paths_into_file_uris(tmp_path, pg_admin_url):
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(migrate.MIGRATIONS_DIR.glob("*.sql")):
        if int(path.name[:4]) < 21:
            shutil.copy(path, before)
    assert len(list(before.iterdir())) >= 19  # the migrations before 0021 were copied, not an empty folder
    name, owner_url, _ = database_with_roles(pg_admin_url, "vs_test_0021")
    try:
        migrate.upgrade(owner_url, before)
        with psycopg.connect(owner_url) as conn:
            conn.execute(
                "INSERT INTO models (score_kind, version, artifact_path) VALUES "
                "('overall', 'abs', '/srv/models/a b/overall'), ('overall', 'rel', 'v1/overall')"
            )
        migrate.upgrade(owner_url)
        with psycopg.connect(owner_url) as conn:
            rows = dict(conn.execute("SELECT version, artifact_uri FROM models").fetchall())
        assert rows == {"abs": "file:///srv/models/a%20b/overall", "rel": "v1/overall"}
        assert artifact_store.fetch(rows["abs"], LocalStore(tmp_path)) == Path("/srv/models/a b/overall")
    finally:
        drop_database(pg_admin_url, name)
