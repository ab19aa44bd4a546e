"""DOB complaints, replaced whole by their publisher every day, are read partially on the days between whole reads:
only the complaints stamped with a day since the last read (entered, inspected, disposed of) or numbered above
the stored ones are fetched, and they are stored as a whole read stores them; a whole read comes every
`whole_read_days`, with `--full`, or with none on record, and only it tombstones the complaints that vanished; a
partial read that failed changes no bookkeeping and is repeated by the next run; the choice is made from
PostgreSQL alone, so it survives a restart and holds for the Ray runner too. Real DOB complaint samples through
the replay server into real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from citysim.replay.faults import FaultConfig
from sentinel.datasets import load_datasets
from sentinel.ingest.pipeline import Guards
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from sentinel.raw_records import stored_record
from sentinel.source_pages import PageReader
from tests.ingest.conftest import VOLATILE, stamped_server, table_checksums

pytestmark = pytest.mark.integration

DATASET = "dob_complaints"
DOB_ID = load_datasets()[DATASET].socrata_id
SNAPSHOT_AT = "2026-11-01T14:50:00.000Z"
NEXT_DAY = "2026-11-02T14:50:00.000Z"


@pytest.fixture
def server(realdata, tmp_path):
    with stamped_server(realdata, tmp_path, [DOB_ID], SNAPSHOT_AT) as server:
        yield server


def run(url, server, *, incremental=True, attempts=8, whole_read_days=7, page_size=300):
    source = SocrataSource(server.url, attempts=attempts, max_backoff_s=0.01)
    options = RunOptions([DATASET], incremental=incremental, page_size=page_size,
                         guards=Guards(whole_read_days=whole_read_days))  # fmt: skip
    _, (summary,) = run_serial(url, source, options)
    return summary


KEPT_AS = ("raw", "raw_packed", "source_page", "source_line")  # the source record's forms


def complaints(url, keys=None):
    """The stored DOB complaints (every column that says what a record is, and its source record), by key."""
    with psycopg.connect(url) as conn:
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'complaints' "
                "ORDER BY ordinal_position"
            )
            if r[0] not in VOLATILE
        ]
        select = ", ".join(f'"{c}"' for c in columns)
        where = "source = 'DOB'" + (" AND source_id = ANY(%s)" if keys is not None else "")
        rows = conn.execute(f"SELECT {select} FROM complaints WHERE {where} ORDER BY source_id",
                            (list(keys),) if keys is not None else ()).fetchall()  # fmt: skip
        pages = PageReader(conn)
        stored = {}
        for row in rows:
            values = dict(zip(columns, row, strict=True))
            record = stored_record(values, pages, "complaints")
            # Where the record is kept depends on the page it came in; a republished record differs in its
            # :updated_at alone, which source_updated_at holds.
            values = {k: v for k, v in values.items() if k not in KEPT_AS}
            values["record"] = {k: v for k, v in record.items() if k != ":updated_at"}
            stored[values["source_id"]] = values
    return stored


def content(row):
    return {k: v for k, v in row.items() if k not in ("record", "source_updated_at")}


def reads(url):
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT DISTINCT whole_read_at, partial_read_at, changes_read_through FROM watermarks WHERE dataset = %s",
            (DATASET,),
        ).fetchall()


def republish(server, at):
    """The publisher's daily replace with nothing changed: every row re-stamped, rowsUpdatedAt moved."""
    rows = SocrataSource(server.url).client.get(DOB_ID, order=":id", limit=50_000)
    server.apply_changes({"at": at, "datasets": {DOB_ID: {"replace": rows}}})


def next_day(server):
    """A day of the publisher's: every row republished, five changed as DOB changes them, one edited without a
    date (seen only by a whole read), one gone. Returns the changed keys and the edited and gone ones."""
    rows = SocrataSource(server.url).client.get(DOB_ID, order="complaint_number", limit=50_000)
    by_key = {row["complaint_number"]: row for row in rows}
    keys = sorted(by_key)
    manhattan = [k for k in keys if k.startswith("1")]
    brooklyn_top = max(k for k in keys if k.startswith("3"))
    disposed, inspected, edited, gone = manhattan[10], manhattan[20], manhattan[30], manhattan[40]
    by_key[disposed] |= {"status": "CLOSED", "disposition_date": "11/02/2026", "disposition_code": "A1"}
    # Entered on the 3rd, dated the 31st: within the lookback of two days before the last read's publish day.
    by_key[inspected] |= {"status": "ACTIVE", "inspection_date": "10/31/2026"}
    by_key[edited] |= {"house_street": "RENAMED STREET".ljust(32)}
    del by_key[gone]
    new_top = str(int(manhattan[-1]) + 1)  # the next Manhattan number, entered today
    by_key[new_top] = by_key[manhattan[0]] | {"complaint_number": new_top, "date_entered": "11/02/2026",
                                              "status": "ACTIVE"}  # fmt: skip
    # Entered late (dated in September): found by its number alone, the next of Brooklyn's.
    late = str(int(brooklyn_top) + 1)
    by_key[late] = by_key[brooklyn_top] | {"complaint_number": late, "date_entered": "09/15/2026"}
    # A number below the largest (a reused range), entered today: found by its date alone.
    low = next(str(n) for n in range(int(manhattan[0]) - 1, 1_000_000, -1) if str(n) not in by_key)
    by_key[low] = by_key[manhattan[1]] | {"complaint_number": low, "date_entered": "11/02/2026"}
    for key in (new_top, late, low):
        for field in ("disposition_date", "disposition_code", "inspection_date"):
            by_key[key].pop(field, None)
    server.apply_changes({"at": NEXT_DAY, "datasets": {DOB_ID: {"replace": list(by_key.values())}}})
    return {disposed, inspected, new_top, late, low}, edited, gone


def test_a_partial_day_fetches_only_what_changed_and_stores_it_as_a_whole_read_does(server, make_db):
    daily, whole = make_db(), make_db()
    first = run(daily, server, incremental=False)
    assert first.read == "whole" and first.fetched > 1_000
    snapshot = complaints(daily)
    (whole_at, partial_at, through), = reads(daily)  # fmt: skip
    assert whole_at is not None and partial_at is None and through == datetime(2026, 11, 1, 14, 50, tzinfo=UTC)
    changed, edited, gone = next_day(server)

    day = run(daily, server)
    assert day.read == "partial" and day.error is None
    assert "partial read of 2026-10-30..2026-11-03" in day.read_because
    assert day.fetched == len(changed) == 5
    assert (day.inserted, day.updated, day.deleted) == (3, 2, 0)
    run(whole, server, incremental=False)
    assert complaints(daily, changed) == complaints(whole, changed)
    # What no date shows waits for the whole read, and nothing vanished for a partial read.
    assert complaints(daily, [edited, gone]) == {k: snapshot[k] for k in (edited, gone)}
    assert not snapshot[gone]["is_deleted"]
    (whole_at, partial_at, through), = reads(daily)  # fmt: skip
    assert whole_at < partial_at and through == datetime(2026, 11, 2, 14, 50, tzinfo=UTC)

    # Unchanged since: not read at all; the next day's partial read starts from the day read last.
    assert run(daily, server).unchanged_since is not None

    # --full: a whole read, which alone tombstones what vanished; then both databases hold the same.
    full = run(daily, server, incremental=False)
    assert full.read == "whole" and full.deleted == 1
    assert complaints(daily, [gone])[gone]["is_deleted"]
    # (A record whose content did not change keeps the raw record and :updated_at it was first stored with.)
    live = {k: content(v) for k, v in complaints(daily).items() if not v["is_deleted"]}
    assert live == {k: content(v) for k, v in complaints(whole).items()}
    assert reads(daily)[0][0] > whole_at


def test_a_whole_read_comes_once_the_last_is_n_days_old(server, fresh_db):
    run(fresh_db, server, incremental=False)
    _, _, gone = next_day(server)
    with psycopg.connect(fresh_db) as conn:  # as if that read had run six days ago
        conn.execute("UPDATE watermarks SET whole_read_at = whole_read_at - interval '6 days'")
    day = run(fresh_db, server)
    assert day.read == "partial" and day.deleted == 0

    republish(server, "2026-11-03T14:50:00.000Z")
    with psycopg.connect(fresh_db) as conn:
        conn.execute("UPDATE watermarks SET whole_read_at = whole_read_at - interval '1 day'")
    week = run(fresh_db, server)
    assert week.read == "whole" and "last whole read 7 days ago (every 7)" in week.read_because
    assert week.deleted == 1 and complaints(fresh_db, [gone])[gone]["is_deleted"]

    # With none on record (a database that only ever read partially, or never): whole.
    with psycopg.connect(fresh_db) as conn:
        conn.execute("UPDATE watermarks SET whole_read_at = NULL")
    republish(server, "2026-11-04T14:50:00.000Z")
    assert run(fresh_db, server).read == "whole"


def test_a_failed_partial_read_leaves_the_database_consistent_and_the_next_run_repeats_it(server, make_db):
    daily, whole = make_db(), make_db()
    run(daily, server, incremental=False)
    snapshot, before_reads = complaints(daily), reads(daily)
    changed, _, _ = next_day(server)
    run(whole, server, incremental=False)

    # Pages of one row, every other request or so refused (seeded: the first two pages commit, the third fails).
    server.set_faults(FaultConfig(rates={503: 0.5}, seed=0, path="/resource/"))
    failed = run(daily, server, attempts=1, page_size=1)
    assert failed.read == "partial" and failed.error is not None and "503" in failed.error
    # Each changed complaint stands as the snapshot had it (or absent) or as a whole read stores it: pages commit
    # whole, with their watermark.
    got, expected = complaints(daily, changed), complaints(whole, changed)
    applied = {k for k in changed if got.get(k) == expected[k]}
    assert all(k in applied or got.get(k) == snapshot.get(k) for k in changed)
    assert 0 < len(applied) < len(changed)
    assert reads(daily) == before_reads  # no read on record: the next run asks for the same days again

    server.set_faults(FaultConfig())
    again = run(daily, server)
    assert again.read == "partial" and again.error is None and again.fetched == len(changed)
    assert complaints(daily, changed) == complaints(whole, changed)
    assert reads(daily) != before_reads


def test_the_choice_survives_a_restart_and_holds_for_the_ray_runner(ray_cluster, server, fresh_db):
    from cluster.ingest import run_ingestion
    from sentinel.ingest.flow import PipelineShape

    run(fresh_db, server, incremental=False)
    changed, _, _ = next_day(server)
    tables = table_checksums(fresh_db)
    # Another process, its own connections and client: all it knows of the last read is in PostgreSQL.
    result = run_ingestion(database_url=fresh_db, source_url=server.url, app_token=None, datasets=[DATASET],
                           incremental=True, shape=PipelineShape(page_size=2, active_partitions=2))  # fmt: skip
    (summary,) = result.summaries
    assert not result.failed and summary.read == "partial" and summary.fetched == len(changed)
    assert summary.deleted == 0 and table_checksums(fresh_db) != tables


def test_with_the_source_version_unknown_the_day_is_read_whole(server, fresh_db):
    run(fresh_db, server, incremental=False)
    _, _, gone = next_day(server)
    server.set_faults(FaultConfig(rates={503: 1.0}, path="/api/views/"))
    blind = run(fresh_db, server, attempts=2)
    assert blind.read == "whole" and blind.error is None and blind.deleted == 1
    assert "rowsUpdatedAt unknown" in blind.read_because
    assert complaints(fresh_db, [gone])[gone]["is_deleted"]


def test_a_complaint_stored_without_a_date_takes_the_next_state_and_an_older_state_never_wins(server, fresh_db):
    """The writer keeps the newest state of a DOB complaint (its number repeats once per disposition): a state dated
    earlier than the stored one is dropped, but a stored complaint with no date at all (neither inspected nor
    disposed of) must take the next state, whose date says nothing against it."""
    rows = SocrataSource(server.url).client.get(DOB_ID, order="complaint_number", limit=50_000)
    by_key = {row["complaint_number"]: row for row in rows}
    undated, dated = sorted(by_key)[5], sorted(by_key)[6]
    for field in ("disposition_date", "disposition_code", "inspection_date"):
        by_key[undated].pop(field, None)
    by_key[undated]["status"] = "ACTIVE"
    by_key[dated] |= {"status": "CLOSED", "disposition_date": "10/20/2026", "disposition_code": "A1"}
    server.apply_changes({"at": SNAPSHOT_AT, "datasets": {DOB_ID: {"replace": list(by_key.values())}}})
    run(fresh_db, server, incremental=False)
    before = complaints(fresh_db, [undated, dated])
    assert before[undated]["status_date"] is None and before[dated]["status"] == "closed"

    by_key[undated] |= {"status": "CLOSED", "disposition_date": "10/30/2026", "disposition_code": "A1"}
    by_key[dated] |= {"status": "ACTIVE", "inspection_date": "10/01/2026"}  # an older state, read later
    by_key[dated].pop("disposition_date"), by_key[dated].pop("disposition_code")
    server.apply_changes({"at": NEXT_DAY, "datasets": {DOB_ID: {"replace": list(by_key.values())}}})
    run(fresh_db, server, incremental=False)
    after = complaints(fresh_db, [undated, dated])
    assert after[undated]["status"] == "closed" and str(after[undated]["status_date"]) == "2026-10-30"
    assert content(after[dated]) == content(before[dated])
