"""Secondary indexes of a table filled from empty are built after its load (sentinel/ingest/deferred_indexes.py):
absent while the run loads, the same indexes after it, and a run that stopped mid-load leaves what the next run
builds first."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from citysim.replay.server import ReplayServer
from sentinel.doctor import check_deferred_indexes
from sentinel.ingest import deferred_indexes
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from tests.conftest import drop_database, migrated_database

pytestmark = pytest.mark.integration
SECONDARY = {"violations_bbl_idx", "violations_bin_idx", "violations_issued_idx", "violations_last_run_idx",
             "violations_tombstones_idx"}  # fmt: skip


@pytest.fixture
def owner_and_app(pg_admin_url: str) -> Iterator[tuple[str, str]]:
    name, owner_url, app_url = migrated_database(pg_admin_url, prefix="vs_defer")
    yield owner_url, app_url
    drop_database(pg_admin_url, name)


def _indexes(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('violations', 'complaints')"
        ).fetchall()
    return dict(rows)


def test_an_empty_tables_secondary_indexes_are_dropped_recorded_and_built_again_the_same(owner_and_app):
    owner_url, _ = owner_and_app
    before = _indexes(owner_url)
    assert set(before) >= SECONDARY
    with psycopg.connect(owner_url, autocommit=True) as conn:
        dropped = deferred_indexes.defer(conn, deferred_indexes.TABLES)
        # Unique and primary keys stay: the writer's merge and the first read's COPY need them.
        assert set(dropped) >= SECONDARY and "violations_source_source_id_key" not in dropped
        assert set(_indexes(owner_url)) == set(before) - set(dropped)
        assert {name for name, _ in deferred_indexes.pending(conn)} == set(dropped)
        doctor = check_deferred_indexes(owner_url)  # `vsentinel doctor` says which are missing
        assert not doctor.ok and "violations_bbl_idx" in doctor.detail
        assert deferred_indexes.defer(conn, deferred_indexes.TABLES) == []  # nothing left to defer
        assert sorted(deferred_indexes.restore(conn)) == sorted(dropped)
        assert deferred_indexes.pending(conn) == [] and deferred_indexes.restore(conn) == []
    assert _indexes(owner_url) == before
    assert check_deferred_indexes(owner_url).ok


def test_a_table_with_rows_or_not_ours_keeps_its_indexes(owner_and_app):
    owner_url, app_url = owner_and_app
    before = _indexes(owner_url)
    with psycopg.connect(app_url, autocommit=True) as conn:
        assert deferred_indexes.defer(conn, deferred_indexes.TABLES) == []  # the application role owns nothing
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO violations (source, source_id, severity, status, content_hash, raw) "
            "VALUES ('HPD', '1', 'unknown', 'open', 'h', '{}')"
        )
        assert deferred_indexes.defer(conn, ["violations"]) == []
    assert _indexes(owner_url) == before


def test_a_first_load_runs_without_them_and_a_run_after_a_stopped_one_builds_them_first(
    owner_and_app, real_server: ReplayServer
):
    owner_url, _ = owner_and_app
    before = _indexes(owner_url)
    seen_during: list[bool] = []

    def during(dataset: str, partition: str, rows: int) -> None:
        seen_during.append("violations_bbl_idx" in _indexes(owner_url))

    options = RunOptions(datasets=["hpd_violations"], incremental=False, on_progress=during)
    run_serial(owner_url, SocrataSource(real_server.url), options)
    assert seen_during and not any(seen_during)  # every page was written without the index
    assert _indexes(owner_url) == before
    loaded = _count(owner_url)
    assert loaded > 1000

    # A run stopped mid-load: its indexes dropped and recorded, never built again.
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("TRUNCATE violations CASCADE")
        assert set(deferred_indexes.defer(conn, ["violations"])) >= SECONDARY
        conn.execute("INSERT INTO violations (source, source_id, severity, status, content_hash, raw) "
                      "VALUES ('HPD', 'x', 'unknown', 'open', 'h', '{}')")  # fmt: skip
    seen_during.clear()
    run_serial(owner_url, SocrataSource(real_server.url), options)
    assert seen_during and all(seen_during)  # built before the run's first page, and the table was not empty
    assert _indexes(owner_url) == before and _count(owner_url) == loaded + 1


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM violations").fetchone()[0]  # type: ignore[index]
