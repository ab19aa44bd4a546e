"""Source records kept a page at a time (sentinel/source_pages.py): each row finds its record, a page is stored
only when it wrote a row and once however often it is written, and pages no row points at any more are pruned."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import psycopg
import pytest

from citysim.replay.formats import read_dataset_file, realdata_samples
from sentinel.ingest.copy_batch import encode_batch
from sentinel.ingest.writer import write_batch
from sentinel.normalize import normalize_page
from sentinel.raw_records import RECORD_COLUMNS, stored_record
from sentinel.scheduling import JobSpec
from sentinel.source_pages import PageReader, page_records, place_records, prune_source_pages, store_page
from tests.normalize.test_outcomes import hpd_violation


def test_rows_are_given_consecutive_lines_of_one_page_named_by_its_content():
    records = [hpd_violation(violationid=str(940000 + i), novdescription=f"D\t{i} \\ é") for i in range(5)]
    rows = normalize_page("hpd_violations", records).rows["violations"]
    page = place_records("hpd_violations", rows)
    assert [(row.source_page, row.source_line) for row in rows] == [(page.id, i) for i in range(5)]
    assert [orjson.loads(line) for line in page_records(page.body)] == records
    assert page.records == 5 and page.dataset == "hpd_violations"
    again = normalize_page("hpd_violations", records).rows["violations"]
    assert place_records("hpd_violations", again).id == page.id
    other = normalize_page("hpd_violations", records[::-1]).rows["violations"]
    assert place_records("hpd_violations", other).id != page.id


@pytest.mark.parametrize(
    ("socrata_id", "dataset", "table", "ratio"),
    [
        ("wvxf-dwi5", "hpd_violations", "violations", 10),
        ("3h2n-5cm9", "dob_violations", "violations", 5),
        ("eabe-havv", "dob_complaints", "complaints", 10),
        ("erm2-nwe9", "service_requests_311", "complaints", 10),
    ],
)
def test_real_records_stored_a_page_at_a_time_take_a_fraction_of_their_json(
    realdata: Path, socrata_id: str, dataset: str, table: str, ratio: int
):
    for path, sample_id in realdata_samples(realdata):
        if sample_id == socrata_id:
            rows = normalize_page(dataset, list(read_dataset_file(path, sample_id))).rows[table]
            as_json = sum(len(orjson.dumps(row.raw)) for row in rows)
            assert len(place_records(dataset, rows).body) * ratio < as_json, path


def _records(db: psycopg.Connection) -> dict[str, tuple[str, dict]]:
    pages = PageReader(db)
    rows = db.cursor(row_factory=psycopg.rows.dict_row).execute(
        f"SELECT source_id, {', '.join(RECORD_COLUMNS)} FROM violations WHERE source_id LIKE '95000_'"
    )
    return {row["source_id"]: (str(row["source_page"]), stored_record(row, pages)) for row in rows}


@pytest.mark.integration
def test_a_page_is_stored_once_only_when_it_wrote_a_row_and_pruned_when_no_row_points_at_it(fresh_db: str):
    # A database of its own: pruning sees every page there is.
    with psycopg.connect(fresh_db) as db:

        def write(*records: dict) -> None:
            write_batch(db, encode_batch(normalize_page("hpd_violations", list(records))), run_id=1)

        def pages() -> int:
            return db.execute("SELECT count(*) FROM source_pages").fetchone()[0]

        a, b = hpd_violation(violationid="950001"), hpd_violation(violationid="950002")
        write(a, b)
        first = _records(db)
        assert {k: r for k, (_, r) in first.items()} == {"950001": a, "950002": b} and pages() == 1
        write(a, b)  # the same page again: every row unchanged, nothing stored
        write(b, a)  # another page, every row unchanged: not stored either
        assert _records(db) == first and pages() == 1
        b2 = {**b, "violationstatus": "Close", "currentstatus": "VIOLATION CLOSED"}
        write(a, b2)  # one row changed: its page is stored, the unchanged row keeps its place in the first
        second = _records(db)
        assert second["950001"] == first["950001"] and second["950002"][1] == b2
        assert second["950002"][0] != first["950002"][0] and pages() == 2
        assert prune_source_pages(db) == 0  # each page still holds a row's record
        a2 = {**a, "novdescription": "CHANGED"}
        write(a2, b2)
        third = _records(db)
        assert {k: r for k, (_, r) in third.items()} == {"950001": a2, "950002": b2} and pages() == 3
        assert prune_source_pages(db) == 1  # the first page: both its rows have moved on
        assert _records(db) == third and pages() == 2


@pytest.mark.integration
def test_a_row_whose_page_is_missing_is_an_error_that_names_it(db: psycopg.Connection):
    with pytest.raises(LookupError, match="source page 00000000-0000-0000-0000-000000000000 is not stored"):
        PageReader(db).record("00000000-0000-0000-0000-000000000000", 0)


@pytest.mark.integration
def test_the_scheduled_job_prunes_only_pages_no_row_points_at(fresh_db: str):
    from cluster.scheduler import prune_source_pages_runner

    record = hpd_violation(violationid="950101")
    with psycopg.connect(fresh_db) as conn:
        write_batch(conn, encode_batch(normalize_page("hpd_violations", [record])), run_id=1)
        orphan = normalize_page("hpd_violations", [hpd_violation(violationid="950102")]).rows["violations"]
        store_page(conn, place_records("hpd_violations", orphan))
        conn.commit()
    job = JobSpec(name="prune_source_pages", cron="45 2 * * 0", kind="prune_source_pages")
    assert (
        prune_source_pages_runner(fresh_db)(job, datetime.now(UTC)) == "1 source record pages no row points at removed"
    )
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT count(*) FROM source_pages").fetchone()[0] == 1
        row = (
            conn.cursor(row_factory=psycopg.rows.dict_row)
            .execute(f"SELECT {', '.join(RECORD_COLUMNS)} FROM violations WHERE source_id = '950101'")
            .fetchone()
        )
        assert row is not None and stored_record(row, PageReader(conn)) == record
