"""Incremental sync applies exactly the day's changes; a full replace by the publisher is detected."""

from __future__ import annotations

import psycopg
import pytest

from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from tests.ingest.conftest import count

pytestmark = pytest.mark.integration

DATASETS = ["hpd_violations", "dob_violations"]


def run(url, server, incremental):
    _, summaries = run_serial(url, SocrataSource(server.url), RunOptions(DATASETS, incremental=incremental,
                                                                         page_size=300))  # fmt: skip
    return {s.dataset: s for s in summaries}


def test_incremental_run_applies_new_rows_status_changes_and_deletions_exactly(fresh_db, real_server):
    run(fresh_db, real_server, incremental=False)
    with psycopg.connect(fresh_db) as conn:
        open_id = conn.execute(
            "SELECT source_id FROM violations WHERE source = 'HPD' AND status = 'open' ORDER BY source_id LIMIT 1"
        ).fetchone()[0]
        gone_id = conn.execute(
            "SELECT source_id FROM violations WHERE source = 'HPD' AND source_id <> %s ORDER BY source_id DESC LIMIT 1",
            (open_id,),
        ).fetchone()[0]
    new_row = {"violationid": "99999001", "boroid": "2", "block": "2810", "lot": "45", "bbl": "2028100045",
               "bin": "2007730", "class": "C", "violationstatus": "Open", "currentstatus": "NOV SENT OUT",
               "novissueddate": "2026-11-20T00:00:00.000", "inspectiondate": "2026-11-19T00:00:00.000"}  # fmt: skip
    real_server.apply_changes({"datasets": {"wvxf-dwi5": {
        "insert": [new_row],
        "update": [{"violationid": open_id, "violationstatus": "Close", "currentstatus": "VIOLATION CLOSED",
                    "currentstatusdate": "2026-11-21T00:00:00.000"}],
        "delete": [gone_id],
    }}})  # fmt: skip

    changed = run(fresh_db, real_server, incremental=True)
    hpd = changed["hpd_violations"]
    assert (hpd.inserted, hpd.updated, hpd.deleted, hpd.status_changes) == (1, 1, 1, 1)
    assert not hpd.full_replace_detected
    assert (changed["dob_violations"].inserted, changed["dob_violations"].updated) == (0, 0)
    with psycopg.connect(fresh_db) as conn:
        history = conn.execute(
            "SELECT source_id, old_status, new_status, new_status_raw, changed_on::text FROM status_history"
        ).fetchall()
        assert history == [(open_id, "open", "closed", "VIOLATION CLOSED", "2026-11-21")]
        assert conn.execute(
            "SELECT is_deleted, deleted_at IS NOT NULL FROM violations WHERE source = 'HPD' AND source_id = %s",
            (gone_id,),
        ).fetchone() == (True, True)
        assert conn.execute("SELECT severity, status FROM violations WHERE source_id = '99999001'").fetchone() == (
            "immediately_hazardous",
            "open",
        )

    again = run(fresh_db, real_server, incremental=True)["hpd_violations"]
    assert (again.inserted, again.updated, again.deleted, again.status_changes) == (0, 0, 0, 0)


def test_a_publisher_full_replace_is_detected_and_reloads_with_deletions(fresh_db, real_server):
    run(fresh_db, real_server, incremental=False)
    rows = SocrataSource(real_server.url).client.get("3h2n-5cm9", order=":id", limit=50_000)
    kept = rows[:-1]
    real_server.apply_changes({"datasets": {"3h2n-5cm9": {"replace": kept}}})

    dob = run(fresh_db, real_server, incremental=True)["dob_violations"]
    assert dob.full_replace_detected
    assert (dob.inserted, dob.updated, dob.deleted) == (0, 0, 1)
    assert count(fresh_db, "SELECT count(*) FROM violations WHERE source = 'DOB' AND NOT is_deleted") == len(
        {r["isn_dob_bis_viol"] for r in kept}
    )


def test_a_full_replace_of_a_filtered_dataset_is_told_by_the_whole_datasets_oldest_row(fresh_db, real_server):
    """311 is read under a row filter (the agencies tracked); a full replace is asked of the whole dataset's
    oldest :updated_at (one row of the source's index), and is found when the publisher replaces it all."""
    options = RunOptions(["service_requests_311"], incremental=False, page_size=300)
    run_serial(fresh_db, SocrataSource(real_server.url), options)
    quiet = run_serial(fresh_db, SocrataSource(real_server.url), RunOptions(["service_requests_311"], incremental=True))
    assert not quiet[1][0].full_replace_detected
    rows = SocrataSource(real_server.url).client.get("erm2-nwe9", order=":id", limit=50_000)
    assert {r.get("agency") for r in rows} - {"HPD", "DOB"}  # rows the filter leaves out are replaced too
    real_server.apply_changes({"datasets": {"erm2-nwe9": {"replace": rows}}})
    replaced = run_serial(
        fresh_db, SocrataSource(real_server.url), RunOptions(["service_requests_311"], incremental=True)
    )
    assert replaced[1][0].full_replace_detected
