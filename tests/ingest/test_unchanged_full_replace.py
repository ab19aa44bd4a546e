"""A full-replace dataset is read only when its source's `rowsUpdatedAt` moved since the last full read: unchanged,
nothing is fetched or written; replaced or with rows deleted, it is read again; with the metadata unreadable it is
read in full and the reason logged. Real NYC samples through the replay server into real PostgreSQL."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import psycopg
import pytest

from citysim.replay.faults import FaultConfig
from sentinel.datasets import load_datasets
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from tests.ingest.conftest import count, stamped_server, table_checksums

pytestmark = pytest.mark.integration

CATALOG = load_datasets()
FULL_REPLACE = [name for name, config in CATALOG.items() if config.change_strategy == "full_replace"]
IDS = {name: CATALOG[name].socrata_id for name in FULL_REPLACE}
SNAPSHOT_AT = "2026-11-01T14:50:00.000Z"
NEXT_DAY = "2026-11-02T14:50:00.000Z"
SNAPSHOT_VERSION = [datetime(2026, 11, 1, 14, 50, tzinfo=UTC)]
NEXT_VERSION = [datetime(2026, 11, 2, 14, 50, tzinfo=UTC)]


@pytest.fixture
def server(realdata, tmp_path):
    with stamped_server(realdata, tmp_path, IDS.values(), SNAPSHOT_AT) as server:
        yield server


def run(url, server, *, incremental, datasets=FULL_REPLACE):
    # Two attempts: a metadata request made to fail costs no backoff worth waiting for.
    source = SocrataSource(server.url, attempts=2)
    run_id, summaries = run_serial(url, source, RunOptions(list(datasets), incremental=incremental, page_size=300))
    return run_id, {s.dataset: s for s in summaries}


def watermarks(url):
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT * FROM watermarks ORDER BY dataset, partition").fetchall()


def versions(url, dataset):
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT DISTINCT source_rows_updated_at FROM watermarks WHERE dataset = %s", (dataset,)
        ).fetchall()
    return [r[0] for r in rows]


def messages(caplog, text):
    return [r for r in caplog.records if r.name == "sentinel.ingest.pipeline" and r.getMessage() == text]


def test_an_unchanged_full_replace_dataset_is_not_fetched_and_its_tables_and_watermarks_stay(fresh_db, server, caplog):
    _, first = run(fresh_db, server, incremental=False)
    assert all(s.fetched > 0 and s.error is None for s in first.values())
    assert {name: versions(fresh_db, name) for name in FULL_REPLACE} == dict.fromkeys(FULL_REPLACE, SNAPSHOT_VERSION)
    tables, marks, requests = table_checksums(fresh_db), watermarks(fresh_db), server.request_count

    caplog.set_level(logging.INFO, logger="sentinel.ingest.pipeline")
    run_id, again = run(fresh_db, server, incremental=True)
    assert {name: (s.fetched, s.unchanged_since, s.error) for name, s in again.items()} == dict.fromkeys(
        FULL_REPLACE, (0, "2026-11-01T14:50:00+00:00", None)
    )
    # One metadata request a dataset and nothing else: no page, no count, no key read.
    assert server.request_count - requests == len(FULL_REPLACE)
    assert table_checksums(fresh_db) == tables
    assert watermarks(fresh_db) == marks
    assert count(fresh_db, "SELECT count(*) FROM ingestion_runs WHERE id = %s AND status = 'succeeded'", run_id) == 1
    skipped = messages(caplog, "dataset not read: unchanged since its last full read")
    assert sorted(r.dataset for r in skipped) == sorted(FULL_REPLACE)
    assert skipped[0].reason == "unchanged since 2026-11-01 14:50:00 UTC (rowsUpdatedAt): not read"

    # A full run always reads.
    _, full = run(fresh_db, server, incremental=False)
    assert {name: s.fetched for name, s in full.items()} == {name: s.fetched for name, s in first.items()}


def test_a_replaced_dataset_and_one_with_a_deletion_are_read_again_and_the_others_are_not(fresh_db, server):
    run(fresh_db, server, incremental=False)
    with psycopg.connect(fresh_db) as conn:
        gone = conn.execute("SELECT min(source_id) FROM complaints WHERE source = 'DOB'").fetchone()[0]
        registration = conn.execute("SELECT min(registration_id)::text FROM registrations").fetchone()[0]
    complaints = SocrataSource(server.url).client.get(IDS["dob_complaints"], order=":id", limit=50_000)
    kept = [row for row in complaints if row["complaint_number"] != gone]
    server.apply_changes({"at": NEXT_DAY, "datasets": {
        IDS["dob_complaints"]: {"replace": kept},
        IDS["hpd_registrations"]: {"delete": [registration]},
    }})  # fmt: skip

    _, day = run(fresh_db, server, incremental=True)
    read = {name for name, s in day.items() if s.unchanged_since is None}
    assert read == {"dob_complaints", "hpd_registrations"}
    moved = "rowsUpdatedAt moved from 2026-11-01 14:50:00 UTC to 2026-11-02 14:50:00 UTC"
    assert day["hpd_registrations"].read_because == moved and day["hpd_registrations"].deleted == 1
    # DOB complaints are read partially between whole reads (test_partial_reads.py): no row carries a day since
    # the last read, so nothing is fetched, and the vanished one waits for the next whole read.
    assert day["dob_complaints"].read_because == f"{moved}; partial read of 2026-10-30..2026-11-03"
    assert (day["dob_complaints"].read, day["dob_complaints"].fetched, day["dob_complaints"].deleted) == (
        "partial", 0, 0)  # fmt: skip
    assert count(fresh_db, "SELECT count(*) FROM complaints WHERE source_id = %s AND is_deleted", gone) == 0
    assert all(day[name].fetched == 0 for name in FULL_REPLACE if name not in read)
    assert versions(fresh_db, "dob_complaints") == versions(fresh_db, "hpd_registrations") == NEXT_VERSION

    _, full = run(fresh_db, server, incremental=False, datasets=["dob_complaints"])
    assert full["dob_complaints"].fetched == len(kept) < len(complaints) and full["dob_complaints"].deleted == 1
    assert count(fresh_db, "SELECT count(*) FROM complaints WHERE source_id = %s AND is_deleted", gone) == 1

    _, after = run(fresh_db, server, incremental=True)
    assert all(s.unchanged_since is not None and s.fetched == 0 for s in after.values())


def test_an_unreadable_rows_updated_at_means_a_full_read_with_the_reason_logged(fresh_db, server, caplog):
    _, first = run(fresh_db, server, incremental=False)
    tables = table_checksums(fresh_db)
    server.set_faults(FaultConfig(rates={503: 1.0}, path="/api/views/"))

    caplog.set_level(logging.INFO, logger="sentinel.ingest.pipeline")
    _, blind = run(fresh_db, server, incremental=True)
    assert {name: s.fetched for name, s in blind.items()} == {name: s.fetched for name, s in first.items()}
    assert all(s.unchanged_since is None and s.error is None for s in blind.values())
    reason = blind["pluto"].read_because
    assert reason.startswith("rowsUpdatedAt unknown (64uk-42ks metadata: ") and "503" in reason
    warned = messages(caplog, "rowsUpdatedAt unknown: the dataset is read in full")
    assert sorted(r.dataset for r in warned) == sorted(FULL_REPLACE)
    assert all("503" in r.error for r in warned)
    assert table_checksums(fresh_db) == tables  # the same rows read again change nothing

    # That read could not record a version, so the next run reads once more; the one after skips.
    server.set_faults(FaultConfig())
    _, next_run = run(fresh_db, server, incremental=True)
    assert next_run["pluto"].read_because == "no rowsUpdatedAt recorded by the last full read"
    _, settled = run(fresh_db, server, incremental=True)
    assert all(s.fetched == 0 for s in settled.values())


def test_a_version_published_within_the_overlap_of_its_read_is_read_again(fresh_db, realdata, tmp_path):
    # Stamped now: a change later in the same second, or one a lagging replica has not served yet, would not
    # have moved the value, so it is not trusted until the overlap has passed.
    from citysim.replay.store import utc_timestamp

    with stamped_server(realdata, tmp_path, [IDS["hpd_vacate_orders"]], utc_timestamp()) as server:
        run(fresh_db, server, incremental=False, datasets=["hpd_vacate_orders"])
        _, again = run(fresh_db, server, incremental=True, datasets=["hpd_vacate_orders"])
    vacate = again["hpd_vacate_orders"]
    assert vacate.fetched > 0 and vacate.unchanged_since is None
    assert "was within 10 min of the last read" in vacate.read_because
