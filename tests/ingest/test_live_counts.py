"""A dataset's live records are kept (sentinel/ingest/live_counts.py), not counted after every read: the writer adds
the records it inserts and the tombstones it revives, reconcile subtracts what it tombstones, and the kept count
equals a real count after every kind of change. An incremental read trusts it; a whole read counts again."""

from __future__ import annotations

import psycopg
import pytest

from sentinel.datasets import load_datasets
from sentinel.ingest import live_counts, pipeline
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource

pytestmark = pytest.mark.integration

HPD = "wvxf-dwi5"


def run(url: str, server, *, incremental: bool) -> pipeline.DatasetSummary:
    _, summaries = run_serial(url, SocrataSource(server.url), RunOptions(["hpd_violations"], incremental=incremental,
                                                                         page_size=300))  # fmt: skip
    return summaries[0]


def kept_and_counted(url: str) -> tuple[int | None, int]:
    with psycopg.connect(url) as conn:
        return live_counts.kept(conn, "hpd_violations"), pipeline.live_count(conn, load_datasets()["hpd_violations"])


def test_the_kept_count_follows_inserts_deletions_and_revivals(fresh_db, real_server):
    run(fresh_db, real_server, incremental=False)
    kept, counted = kept_and_counted(fresh_db)
    assert kept == counted > 0
    with psycopg.connect(fresh_db) as conn:
        (gone,) = conn.execute(
            "SELECT source_id FROM violations WHERE source = 'HPD' ORDER BY source_id LIMIT 1"
        ).fetchone()
    back = SocrataSource(real_server.url).client.get(HPD, where=f"violationid = '{gone}'")[0]
    new_row = {"violationid": "99999001", "boroid": "2", "block": "2810", "lot": "45", "bbl": "2028100045",
               "class": "C", "violationstatus": "Open", "novissueddate": "2026-11-20T00:00:00.000"}  # fmt: skip

    real_server.apply_changes({"datasets": {HPD: {"insert": [new_row], "delete": [gone]}}})
    day = run(fresh_db, real_server, incremental=True)
    assert (day.inserted, day.deleted) == (1, 1)
    assert kept_and_counted(fresh_db) == (counted, counted)  # one in, one out

    # The deleted record published again: its tombstone revived by the merge, counted live again.
    real_server.apply_changes({"datasets": {HPD: {"insert": [back]}}})
    day = run(fresh_db, real_server, incremental=True)
    assert (day.inserted, day.updated, day.deleted) == (0, 1, 0)
    assert kept_and_counted(fresh_db) == (counted + 1, counted + 1)


def test_an_incremental_read_trusts_the_kept_count_and_a_whole_read_counts_again(fresh_db, real_server):
    run(fresh_db, real_server, incremental=False)
    # A record written by hand, not by a run: the source does not have it, and the kept count does not know it.
    with psycopg.connect(fresh_db) as conn:
        conn.execute(
            "INSERT INTO violations (source, source_id, bbl, severity, status, raw, content_hash)"
            " VALUES ('HPD', 'by-hand', '1000010001', 'hazardous', 'open', '{}', 'h')"
        )
    kept, counted = kept_and_counted(fresh_db)
    assert counted == kept + 1

    # Nothing changed at the source: the kept count agrees with it, so no record is counted nor compared.
    assert run(fresh_db, real_server, incremental=True).deleted == 0
    assert kept_and_counted(fresh_db) == (kept, counted)

    # A whole read counts the records: they disagree with the source, the keys are compared, the stray goes.
    assert run(fresh_db, real_server, incremental=False).deleted == 1
    assert kept_and_counted(fresh_db) == (kept, kept)


def test_a_kept_count_gone_wrong_is_counted_again_and_deletes_nothing(fresh_db, real_server):
    run(fresh_db, real_server, incremental=False)
    kept, _ = kept_and_counted(fresh_db)
    with psycopg.connect(fresh_db) as conn:
        conn.execute("UPDATE live_counts SET live = live + 5 WHERE dataset = 'hpd_violations'")
    assert run(fresh_db, real_server, incremental=True).deleted == 0
    assert kept_and_counted(fresh_db) == (kept, kept)
