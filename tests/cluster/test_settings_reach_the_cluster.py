"""Settings reach a driver's Ray job, and inside Ray an unset database or Redis URL is an error, never an embedded
server that no other node could reach."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.runtime_env import driver_runtime_env, settings_env
from sentinel.embedded import ServicesNotConfiguredError, check_embedded_allowed, local_services
from sentinel.settings import load_settings

APP_URL = "postgresql://app:pw@db.internal:5432/vsentinel"
OWNER_URL = "postgresql://owner:pw@db.internal:5432/vsentinel"
SECRET = "9vK2-3nq_Z8rYt1XwLp0Qe7Hs4Uj6Ma5Dc"  # random-looking: the settings check its strength


def test_the_runtime_env_carries_the_drivers_settings_and_never_the_owners_login(tmp_path: Path):
    environ = {
        "VS_DATABASE_URL": APP_URL,
        "VS_DATABASE_OWNER_URL": OWNER_URL,
        "VS_DATA_DIR": str(tmp_path),
        "VS_API_SCORE_CACHE_SECONDS": "30",
        "VS_TRAIN_WORKERS": "4",
        "AWS_SECRET_ACCESS_KEY": "s3-secret",
        "AWS_ENDPOINT_URL_S3": "http://minio:9000",
        "HOME": "/home/driver",
    }
    settings = load_settings(
        database_url=APP_URL, database_owner_url=OWNER_URL, redis_url="redis://cache:6379/0", jwt_secret=SECRET
    )
    env = driver_runtime_env(settings, environ)["env_vars"]
    assert env["VS_DATABASE_URL"] == APP_URL
    assert env["VS_REDIS_URL"] == "redis://cache:6379/0"  # resolved from a file or argument, passed all the same
    assert env["VS_JWT_SECRET"] == SECRET
    assert env["VS_API_SCORE_CACHE_SECONDS"] == "30" and env["VS_TRAIN_WORKERS"] == "4"
    assert env["AWS_SECRET_ACCESS_KEY"] == "s3-secret"
    # An S3-compatible server's endpoint too: without it the nodes would ask AWS for the bucket.
    assert env["AWS_ENDPOINT_URL_S3"] == "http://minio:9000"
    assert "VS_DATABASE_OWNER_URL" not in env and "VS_DATA_DIR" not in env and "HOME" not in env


def test_a_secret_from_settings_is_passed_as_its_value():
    import base64
    import secrets

    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    env = settings_env(load_settings(secrets_key=key, database_url=APP_URL), {})
    assert env["VS_SECRETS_KEY"] == key


def test_settings_from_the_drivers_settings_file_reach_the_cluster(tmp_path: Path, monkeypatch):
    # A node's processes read no settings file of the driver's (VS_CONFIG_FILE names a path on the driver's machine):
    # what the file set must travel as variables, or Tune on a node would keep its results on its own disk.
    config = tmp_path / "settings.yaml"
    config.write_text("ray_storage: s3://results/sweeps\ningest_normalizers: 3\nray_include_dashboard: false\n")
    monkeypatch.setenv("VS_CONFIG_FILE", str(config))
    settings = load_settings(database_url=APP_URL, data_dir=tmp_path)
    env = settings_env(settings, {"VS_CONFIG_FILE": str(config), "VS_DATA_DIR": str(tmp_path)})
    assert env["VS_RAY_STORAGE"] == "s3://results/sweeps"
    assert env["VS_INGEST_NORMALIZERS"] == "3"
    assert env["VS_RAY_INCLUDE_DASHBOARD"] == "false"
    assert "VS_CONFIG_FILE" not in env and "VS_DATA_DIR" not in env
    monkeypatch.delenv("VS_CONFIG_FILE")
    # Read back on a node from the variables alone, the settings are the driver's.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    node = load_settings(data_dir=tmp_path / "node")
    assert node.ray_storage == "s3://results/sweeps" and node.ingest_normalizers == 3
    assert node.ray_include_dashboard is False


@pytest.mark.parametrize("marker", ["RAY_JOB_CONFIG_JSON_ENV_VAR", "RAY_RAYLET_PID"])
def test_inside_ray_an_unset_url_is_an_error_that_names_it(tmp_path: Path, monkeypatch, marker: str):
    monkeypatch.setenv(marker, "1")
    settings = load_settings(data_dir=tmp_path, database_url=None, redis_url="redis://cache:6379/0", ray_address=None)
    expected = "VS_DATABASE_URL not set in this Ray job, actor or replica"
    with pytest.raises(ServicesNotConfiguredError, match=expected), local_services(settings):
        pass
    assert not (tmp_path / "postgres").exists()


def test_a_driver_of_a_cluster_needs_shared_services(tmp_path: Path, monkeypatch):
    for marker in ("RAY_JOB_CONFIG_JSON_ENV_VAR", "RAY_RAYLET_PID"):
        monkeypatch.delenv(marker, raising=False)
    settings = load_settings(data_dir=tmp_path, database_url=APP_URL, redis_url=None, ray_address="10.0.0.10:6379")
    with pytest.raises(ServicesNotConfiguredError, match="VS_REDIS_URL not set, but VS_RAY_ADDRESS names a cluster"):
        check_embedded_allowed(settings)
    check_embedded_allowed(load_settings(data_dir=tmp_path, database_url=None, redis_url=None, ray_address=None))


@pytest.mark.integration
def test_an_actor_with_no_database_url_refuses_to_start_an_embedded_server(ray_cluster, tmp_path: Path):
    import ray

    @ray.remote(num_cpus=0)
    def services_in_a_worker(data_dir: str) -> str:
        try:
            with local_services(load_settings(data_dir=data_dir, database_url=None, redis_url=None)):
                return "started an embedded server"
        except ServicesNotConfiguredError as error:
            return str(error)

    message = ray.get(services_in_a_worker.remote(str(tmp_path)), timeout=120)
    assert message.startswith("VS_DATABASE_URL and VS_REDIS_URL not set in this Ray job, actor or replica")
    assert not (tmp_path / "postgres").exists()
