"""Fixtures for ingestion tests: a fresh migrated database per test and replay servers over real or synthetic data."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import psutil
import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from citysim.replay.faults import FaultConfig
from citysim.replay.formats import read_dataset_file
from citysim.replay.server import ReplayServer, serve_in_background
from citysim.replay.store import ReplayStore
from cluster.ingest import Engine, IngestResult, run_ingestion
from sentinel import source_pages
from sentinel.datasets import load_datasets
from sentinel.ingest.flow import PipelineShape
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from sentinel.raw_records import record_columns, stored_record
from sentinel.source_pages import PageReader
from tests.conftest import drop_database, migrated_database, real_sources

# Columns that say when or by which run a row was written, not what it says: left out of table checksums.
VOLATILE = {"id", "first_seen_at", "updated_at", "last_run_id", "run_id", "deleted_at", "observed_at", "created_at",
            "last_seen_at", "record_id"}  # fmt: skip
CHECKED_TABLES = ("violations", "complaints", "properties", "buildings", "registrations", "registration_contacts",
                  "status_history", "rejects")  # fmt: skip
# Where a row's source record is kept depends on the page it came in (runs page a dataset differently): the
# records themselves are checked instead.
PLACEMENT = {"source_page", "source_line"}


@pytest.fixture
def fresh_db(pg_admin_url: str) -> Iterator[str]:
    name, _, url = migrated_database(pg_admin_url, prefix="vs_ingest")
    yield url
    drop_database(pg_admin_url, name)


@pytest.fixture
def real_server(realdata: Path) -> Iterator[ReplayServer]:
    with serve_in_background(sources=real_sources(realdata)) as server:
        yield server


@contextlib.contextmanager
def stamped_server(realdata: Path, store_dir: Path, dataset_ids: Iterable[str], at: str) -> Iterator[ReplayServer]:
    """A replay server over the real samples of `dataset_ids`, every row stamped `at` (:created_at, :updated_at,
    and so rowsUpdatedAt), as a publisher's rows carry their own time, not the time a test wrote the files."""
    sources = real_sources(realdata)
    store = ReplayStore(store_dir / "stamped.sqlite", owns_file=True)
    for dataset_id in dataset_ids:
        paths = sources[dataset_id]
        rows = (row for path in paths for row in read_dataset_file(path, dataset_id))
        store.load_dataset(dataset_id, rows, seed=",".join(p.name for p in paths), timestamp=at)
    server = ReplayServer(store).start()
    try:
        yield server
    finally:
        server.stop()


def table_checksums(database_url: str) -> dict[str, tuple[int, str]]:
    """Row count and an md5 over every table's content (minus bookkeeping columns), in a stable order."""
    result = {}
    with psycopg.connect(database_url) as conn:
        for table in CHECKED_TABLES:
            columns = [
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "ORDER BY ordinal_position",
                    (table,),
                )
                if r[0] not in VOLATILE | PLACEMENT
            ]
            expr = "concat_ws('|', " + ", ".join(f'"{c}"::text' for c in columns) + ")"
            # Rows hashed, then the hashes of buckets (by the row hash's first three hex digits): one string_agg
            # over every row passes PostgreSQL's limit on a string at the full city's size (RESULTS.md, "At full
            # size").
            row = conn.execute(
                "SELECT coalesce(sum(n), 0), coalesce(md5(string_agg(h, '' ORDER BY b)), '') FROM ("
                "  SELECT left(r, 3) AS b, count(*) AS n, md5(string_agg(r, '' ORDER BY r)) AS h"
                f"  FROM (SELECT md5({expr}) AS r FROM {table}) rows GROUP BY left(r, 3)"
                ") buckets"
            ).fetchone()
            result[table] = (int(row[0]), row[1])
        for table in source_pages.TABLES:
            result[f"{table} records"] = _records_checksum(conn, table)
    return result


def _records_checksum(conn: psycopg.Connection, table: str) -> tuple[int, str]:
    """Row count and a digest over every row's key and source record, however it is kept: the sum of the rows'
    md5s (mod 2**128), which depends on neither their order nor their placement and holds no row past its turn
    (the rows come from a server-side cursor, page by page, so a table of the whole city fits: a sorted list of
    every row's record did not)."""
    pages = PageReader(conn)
    query = sql.SQL("SELECT {} FROM {} ORDER BY source_page, source_line").format(
        sql.SQL(", ").join(map(sql.Identifier, ("source_id", *record_columns(table)))), sql.Identifier(table)
    )
    rows, total = 0, 0
    with conn.cursor(f"records_of_{table}", row_factory=dict_row) as cursor:
        cursor.itersize = 10_000
        for row in cursor.execute(query):
            keyed = orjson.dumps([row["source"], row["source_id"], stored_record(row, pages, table)])
            total += int.from_bytes(hashlib.md5(keyed, usedforsecurity=False).digest(), "big")
            rows += 1
    return rows, f"{total % 2**128:032x}"


def count(database_url: str, query: str, *params: object) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, params).fetchone()[0]


@pytest.fixture
def make_db(pg_admin_url: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh migrated databases, all dropped at the end of the test."""
    names: list[str] = []

    def make() -> str:
        name, _, url = migrated_database(pg_admin_url, prefix="vs_ingest")
        names.append(name)
        return url

    yield make
    for name in names:
        drop_database(pg_admin_url, name)


@pytest.fixture(scope="session")
def synthetic_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from datetime import date

    from citysim.synth.city import write_city
    from citysim.synth.config import SynthConfig

    out = tmp_path_factory.mktemp("city")
    write_city(SynthConfig(buildings=150, start=date(2023, 1, 1), end=date(2025, 6, 30), seed=3), out)
    return out


# The synthetic city served to the pipeline tests (Ray and local engines), and what a clean serial run writes.


@dataclass(frozen=True)
class Reference:
    checksums: dict[str, tuple[int, str]]  # every table of a clean serial run
    counts: dict[str, tuple[int, int, int, int]]  # its (fetched, inserted, rejected, skipped) per dataset


@pytest.fixture(scope="module")
def shared_server(synthetic_city):
    with serve_in_background(synthetic_city) as server:
        yield server


@pytest.fixture
def city_server(shared_server):
    """The module's replay server; a test's injected faults end with the test."""
    yield shared_server
    shared_server.set_faults(FaultConfig())


@pytest.fixture(scope="module")
def reference(shared_server, pg_admin_url) -> Reference:
    """What a clean serial run writes from the same data: computed once, the data never changes here."""
    name, _, url = migrated_database(pg_admin_url, prefix="vs_reference")
    try:
        source = SocrataSource(shared_server.url)
        _, summaries = run_serial(url, source, RunOptions(list(load_datasets()), incremental=False, page_size=100))
        counts = {s.dataset: (s.fetched, s.inserted, s.rejected, s.skipped) for s in summaries}
        return Reference(table_checksums(url), counts)
    finally:
        drop_database(pg_admin_url, name)


def wait_for(predicate, timeout=60.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    raise AssertionError("condition not reached before the deadline")


def committed_rows(url) -> int:
    return count(url, "SELECT coalesce(sum(rows_committed), 0) FROM watermarks")


def runs_through_dropped_writer_connections(url: str, server: ReplayServer, reference: Reference, run) -> None:
    """`run()` (an ingestion into `url` from `server`) with its writers' connections terminated every 0.3 s once
    200 rows are committed: it fails cleanly or completes, and a rerun completes with the reference's tables."""
    server.set_faults(FaultConfig(latency_ms=10))
    stop = threading.Event()

    def drop_writer_connections():
        with psycopg.connect(url, autocommit=True) as conn:
            wait_for(lambda: committed_rows(url) > 200)
            while not stop.is_set():
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE application_name = 'vsentinel-ingest-writer'")  # fmt: skip
                if stop.wait(0.3):
                    break

    killer = threading.Thread(target=drop_writer_connections, daemon=True)
    killer.start()
    try:
        first = run()
    finally:
        stop.set()
        killer.join(10)
    server.set_faults(FaultConfig())
    # Whatever the first run did, every committed page carried its watermark: the rerun finishes the job.
    if first.failed:
        errors = [s.error for s in first.failed]
        assert all("terminat" in e or "connection" in e.lower() for e in errors), errors
        assert count(url, "SELECT count(*) FROM ingestion_runs WHERE status IN ('partial', 'failed')") == 1
    second = run()
    assert not second.failed
    assert table_checksums(url) == reference.checksums


PIPELINE_SHAPE = PipelineShape(page_size=100, active_partitions=4)  # small pages: many of them, four boroughs at once


def pipeline_run(url: str, server: ReplayServer, engine: Engine = "ray", **kwargs) -> IngestResult:
    """Every dataset from `server` into `url` through `cluster.ingest.run_ingestion` on `engine`: a full read
    unless `incremental=True`, in `PIPELINE_SHAPE` unless a `shape` is given."""
    return run_ingestion(database_url=url, source_url=server.url, app_token=None, datasets=list(load_datasets()),
                         incremental=kwargs.pop("incremental", False), shape=kwargs.pop("shape", PIPELINE_SHAPE),
                         engine=engine, **kwargs)  # fmt: skip


def normalizer_processes(root: int | None = None) -> list[psutil.Process]:
    """The local engine's normalizer processes under `root` (default: this process)."""
    found = []
    for process in psutil.Process(root).children(recursive=True):
        try:
            if "sentinel.ingest.normalizer_process" in process.cmdline():
                found.append(process)
        except psutil.NoSuchProcess:
            continue
    return found
