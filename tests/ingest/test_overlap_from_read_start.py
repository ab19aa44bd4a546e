"""A partition's next incremental read starts `OVERLAP` before its last read began, or at its mark when the mark is
older. A day's batch, stamped hours before the run that reads it, is then read once, not again by the next day's
run; a batch stamped within the overlap of a run is read again (it may have become visible late); an interrupted
read keeps the start of the run that began it. Real HPD samples through the replay server into real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from citysim.replay.store import utc_timestamp
from sentinel.ingest.pipeline import OVERLAP
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from sentinel.ingest.watermarks import Watermark, plan_read
from tests.ingest.conftest import stamped_server

HPD = "wvxf-dwi5"
SNAPSHOT_AT = "2026-11-01T14:50:00.000Z"
BATCH_AT = "2026-11-02T14:50:00.000Z"
MARK = datetime(2026, 11, 2, 14, 50, tzinfo=UTC)


def start_of(mark: Watermark) -> str | None:
    plan = plan_read(mark, incremental=True, overlap=OVERLAP)
    assert plan.incremental and not plan.resumed and plan.cursor is not None and plan.cursor.row_id is None
    return plan.cursor.updated_at


def finished(read_started_at: datetime | None) -> Watermark:
    return Watermark("hpd_violations", "1", MARK, completed=True, read_started_at=read_started_at)


def test_a_read_that_began_long_after_its_mark_is_followed_from_the_mark():
    assert start_of(finished(MARK + timedelta(hours=20))) == "2026-11-02T14:50:00.000"


def test_a_read_that_began_within_the_overlap_of_its_mark_is_followed_from_the_overlap_before_its_start():
    assert start_of(finished(MARK + timedelta(minutes=4))) == "2026-11-02T14:44:00.000"


def test_a_read_that_began_before_its_mark_is_followed_from_the_overlap_before_its_start():
    # A long read (a whole city's first load): rows changed while it paged carry stamps after its start, some of
    # them before its mark; every one of them is read again.
    assert start_of(finished(MARK - timedelta(hours=2))) == "2026-11-02T12:40:00.000"


def test_a_mark_without_its_reads_start_is_followed_from_the_overlap_before_it():
    assert start_of(finished(None)) == "2026-11-02T14:40:00.000"


def run(url, server, *, incremental, on_progress=None):
    options = RunOptions(["hpd_violations"], incremental=incremental, page_size=300, on_progress=on_progress)
    _, summaries = run_serial(url, SocrataSource(server.url), options)
    return summaries[0]


def read_starts(url) -> dict[str, tuple[datetime | None, bool]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT partition, read_started_at, completed FROM watermarks WHERE dataset = 'hpd_violations'"
        ).fetchall()
    return {partition: (started, completed) for partition, started, completed in rows}


def new_violation(violation_id: int, borough: int) -> dict[str, str]:
    return {"violationid": str(violation_id), "boroid": str(borough), "block": "2810", "lot": "45",
            "bbl": f"{borough}028100045", "class": "B", "violationstatus": "Open",
            "novissueddate": "2026-11-02T00:00:00.000"}  # fmt: skip


def test_a_days_batch_is_read_by_the_next_run_and_not_again_by_the_one_after(fresh_db, realdata, tmp_path):
    with stamped_server(realdata, tmp_path, [HPD], at=SNAPSHOT_AT) as server:
        assert run(fresh_db, server, incremental=False).fetched > 300
        batch = [new_violation(99990000 + borough, borough) for borough in (1, 2, 3)]
        server.apply_changes({"at": BATCH_AT, "datasets": {HPD: {"insert": batch}}})

        day = run(fresh_db, server, incremental=True)  # the snapshot, a day older than the batch, is not re-read
        assert day.fetched == 3
        assert day.inserted + day.rejected == 3

        after = run(fresh_db, server, incremental=True)
        assert after.fetched == 0
        assert (after.inserted, after.updated) == (0, 0)


def test_a_batch_stamped_within_the_overlap_of_a_run_is_read_again(fresh_db, realdata, tmp_path):
    # Stamped now: a row of it that a lagging replica had not served yet would carry a stamp the run has passed.
    with stamped_server(realdata, tmp_path, [HPD], at=utc_timestamp()) as server:
        first = run(fresh_db, server, incremental=False)
        again = run(fresh_db, server, incremental=True)
    assert again.fetched == first.fetched > 0
    assert (again.inserted, again.updated) == (0, 0)


class RunInterruptedError(Exception):
    pass


def test_an_interrupted_read_keeps_the_start_of_the_run_that_began_it(fresh_db, realdata, tmp_path):
    def stop_after_a_page(dataset, partition, rows):
        raise RunInterruptedError(f"{dataset}/{partition}")

    with stamped_server(realdata, tmp_path, [HPD], at=SNAPSHOT_AT) as server:
        before = datetime.now(UTC)
        with pytest.raises(RunInterruptedError):
            run(fresh_db, server, incremental=False, on_progress=stop_after_a_page)
        interrupted = {p: started for p, (started, completed) in read_starts(fresh_db).items() if not completed}
        assert len(interrupted) == 1
        [(partition, began)] = interrupted.items()
        assert began is not None and before <= began <= datetime.now(UTC)

        resumed_at = datetime.now(UTC)
        run(fresh_db, server, incremental=False)
    starts = read_starts(fresh_db)
    assert all(completed for _, completed in starts.values())
    assert starts[partition][0] == began
    assert all(started >= resumed_at for p, (started, _) in starts.items() if p != partition)
