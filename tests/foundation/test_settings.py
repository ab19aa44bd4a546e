"""Settings fail at start with a message that names the variable and what is wrong."""

from __future__ import annotations

import pytest

from sentinel.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    for name in list(__import__("os").environ):
        if name.startswith("VS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("VS_RAY_NUM_CPUS", "lots", "VS_RAY_NUM_CPUS='lots': Input should be a valid integer"),
        ("VS_RAY_NUM_CPUS", "0", "VS_RAY_NUM_CPUS='0': Input should be greater than or equal to 1"),
        ("VS_DATABASE_URL", "mysql://x@y/z", "VS_DATABASE_URL='mysql://x@y/z': URL scheme should be"),
        ("VS_SOCRATA_URL", "data.cityofnewyork.us", "VS_SOCRATA_URL='data.cityofnewyork.us'"),
        ("VS_LOG_LEVEL", "LOUD", "VS_LOG_LEVEL='LOUD': Input should be"),
        ("VS_INGEST_WRITERS", "0", "VS_INGEST_WRITERS='0': Input should be greater than or equal to 1"),
        ("VS_RAY_STORAGE", "gs://bucket/runs", "VS_RAY_STORAGE='gs://bucket/runs': Value error, 'gs://bucket/runs'"),
        ("VS_RAY_STORAGE", "s3:///runs", "VS_RAY_STORAGE='s3:///runs': Value error, 's3:///runs' is not an s3://"),
    ],
)
def test_a_bad_variable_is_named_with_its_value_and_the_problem(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert expected in str(caught.value)


def test_environment_overrides_yaml_and_yaml_overrides_defaults(monkeypatch, tmp_path):
    config = tmp_path / "settings.yaml"
    config.write_text("ray_num_cpus: 3\nserve_http_port: 9001\n")
    monkeypatch.setenv("VS_CONFIG_FILE", str(config))
    monkeypatch.setenv("VS_SERVE_HTTP_PORT", "9100")
    settings = load_settings()
    assert settings.ray_num_cpus == 3
    assert settings.serve_http_port == 9100


def test_dotenv_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("VS_SOCRATA_APP_TOKEN=from-dotenv\nVS_REDIS_URL=redis://127.0.0.1:6399/2\n")
    settings = load_settings()
    assert settings.socrata_app_token == "from-dotenv"
    assert str(settings.redis_url) == "redis://127.0.0.1:6399/2"


def test_unset_urls_mean_embedded_services():
    settings = load_settings()
    assert settings.database_url is None and settings.redis_url is None


def test_a_broken_yaml_file_is_reported(monkeypatch, tmp_path):
    config = tmp_path / "broken.yaml"
    config.write_text("ray_num_cpus: [unclosed\n")
    monkeypatch.setenv("VS_CONFIG_FILE", str(config))
    with pytest.raises(SettingsError, match="invalid settings file"):
        load_settings()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:secret@db.example/x", "postgresql://u:***@db.example/x"),
        ("postgresql://postgres:@/sentinel?host=/run", "postgresql://postgres:@/sentinel?host=/run"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
)
def test_reports_hide_passwords_and_only_passwords(url, shown):
    from sentinel.doctor import _redact

    assert _redact(url) == shown


def test_the_ingestion_pipeline_shape_comes_from_settings(monkeypatch):
    from sentinel.ingest.flow import PipelineShape

    monkeypatch.setenv("VS_INGEST_FETCHERS", "3")
    monkeypatch.setenv("VS_INGEST_FETCH_THREADS", "4")
    monkeypatch.setenv("VS_INGEST_WRITE_CONNECTIONS", "3")
    shape = PipelineShape.from_settings(load_settings(), page_size=500)
    assert (shape.fetchers, shape.fetch_threads, shape.writers, shape.page_size) == (3, 4, 1, 500)
    assert shape.write_connections == 3
    assert PipelineShape.from_settings(load_settings(ingest_page_size=2000)).page_size == 2000


def test_the_pipeline_shape_defaults_are_the_settings_defaults():
    from sentinel.ingest.flow import PipelineShape

    assert PipelineShape() == PipelineShape.from_settings(load_settings())


def test_ray_storage_is_a_bucket_uri_or_an_absolute_path(monkeypatch, tmp_path):
    # A Path would have made "s3://b/p" "s3:/b/p"; Ray takes the URI, and a relative path means nothing on other
    # nodes (nor to Ray's own processes, which do not share the driver's working directory).
    from sentinel.artifact_store import join

    bucket = load_settings(ray_storage="s3://vs-ray/runs/").resolved_ray_storage
    assert bucket == "s3://vs-ray/runs"
    assert join(bucket, "sweep-v1/train") == "s3://vs-ray/runs/sweep-v1/train"
    assert load_settings(ray_storage="results").resolved_ray_storage == str(tmp_path / "results")
    assert load_settings(ray_storage=(tmp_path / "a b").as_uri()).resolved_ray_storage == str(tmp_path / "a b")
    assert join(str(tmp_path), "sweep") == f"{tmp_path}/sweep"
    assert load_settings(data_dir="data").resolved_ray_storage == str(tmp_path / "data" / "ray_results")
    monkeypatch.setenv("VS_RAY_STORAGE", "s3://vs-ray/prefix")
    assert load_settings().resolved_ray_storage == "s3://vs-ray/prefix"
