"""Deletions are guarded: an empty or shrunken upstream tombstones nothing, the run is 'partial', the admins are
told; a dataset rejecting too much is 'failed'. Real NYC rows through the replay server into real PostgreSQL."""

from __future__ import annotations

import orjson
import psycopg
import pytest

from sentinel.ingest.pipeline import Guards
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from tests.ingest.conftest import count

pytestmark = pytest.mark.integration


def run(url, server, datasets, *, incremental=True, guards=None):
    options = RunOptions(datasets, incremental=incremental, page_size=300, guards=guards or Guards())
    run_id, summaries = run_serial(url, SocrataSource(server.url), options)
    return run_id, {s.dataset: s for s in summaries}


def run_row(url, run_id):
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT status, error, stats FROM ingestion_runs WHERE id = %s", (run_id,)).fetchone()


def add_admin(url) -> None:
    with psycopg.connect(url) as conn:
        org = conn.execute("INSERT INTO organizations (name) VALUES ('Acme') RETURNING id").fetchone()[0]
        for email, role in (("admin@acme.test", "admin"), ("viewer@acme.test", "viewer")):
            conn.execute(
                "INSERT INTO users (org_id, email, password_hash, role) VALUES (%s, %s, '$argon2id$x', %s)",
                (org, email, role),
            )


def live(url, source):
    return count(url, "SELECT count(*) FROM violations WHERE source = %s AND NOT is_deleted", source)


def test_an_empty_upstream_leaves_every_live_row_live_and_the_run_is_not_succeeded(fresh_db, real_server):
    add_admin(fresh_db)
    run(fresh_db, real_server, ["hpd_violations"], incremental=False)
    before = live(fresh_db, "HPD")
    assert before == 1100  # the tablynn JSON and the nycdb portal export
    real_server.apply_changes({"datasets": {"wvxf-dwi5": {"replace": []}}})

    run_id, summaries = run(fresh_db, real_server, ["hpd_violations"])
    hpd = summaries["hpd_violations"]
    assert hpd.deleted == 0 and hpd.held_deletions == before
    assert "source returned no records" in hpd.anomaly
    assert live(fresh_db, "HPD") == before
    status, error, stats = run_row(fresh_db, run_id)
    assert status == "partial"
    assert "hpd_violations: source returned no records while 1,100 are live" in error
    assert stats["hpd_violations"]["anomaly"] == hpd.anomaly
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT dataset, kind, live_records, would_delete FROM source_anomalies").fetchall() == [
            ("hpd_violations", "empty_source", 1100, 1100)
        ]
        notices = conn.execute("SELECT channel, target, payload->>'subject' FROM notifications").fetchall()
    subject = "[ViolationSentinel] source anomaly: hpd_violations (empty source)"
    assert notices == [("email", "admin@acme.test", subject)]  # the admin only, not the viewer


def test_a_full_read_of_a_truncated_upstream_holds_its_deletions(fresh_db, real_server):
    run(fresh_db, real_server, ["dob_violations"], incremental=False)
    before = live(fresh_db, "DOB")
    rows = SocrataSource(real_server.url).client.get("3h2n-5cm9", order=":id", limit=50_000)
    # A file cut at a row boundary: the first 60 % of the records arrive, well-formed.
    kept = rows[: len(rows) * 6 // 10]
    gone = before - len({r["isn_dob_bis_viol"] for r in kept})
    real_server.apply_changes({"datasets": {"3h2n-5cm9": {"replace": kept}}})

    run_id, summaries = run(fresh_db, real_server, ["dob_violations"], incremental=False)
    dob = summaries["dob_violations"]
    assert dob.deleted == 0 and dob.held_deletions == gone > 0.3 * before
    assert f"would tombstone {gone:,} of {before:,} live" in dob.anomaly
    assert live(fresh_db, "DOB") == before
    assert run_row(fresh_db, run_id)[0] == "partial"

    # Within the allowed share deletions still apply: the guard is a threshold, not a switch.
    run_id, summaries = run(fresh_db, real_server, ["dob_violations"], incremental=False, guards=Guards(0.5, 0.05))
    assert summaries["dob_violations"].deleted == gone and summaries["dob_violations"].anomaly is None
    assert live(fresh_db, "DOB") == before - gone
    assert run_row(fresh_db, run_id)[0] == "succeeded"


def test_a_dataset_rejecting_over_the_threshold_is_failed_not_succeeded(fresh_db, real_server):
    unlocatable = [{"isn_dob_bis_viol": f"9900{i:04d}", "violation_type_code": "E", "issue_date": "20240105",
                    "violation_category": "V-DOB VIOLATION - ACTIVE"} for i in range(100)]  # fmt: skip
    real_server.apply_changes({"datasets": {"3h2n-5cm9": {"insert": unlocatable}}})

    run_id, summaries = run(fresh_db, real_server, ["dob_violations", "hpd_violations"], incremental=False)
    dob = summaries["dob_violations"]
    assert dob.rejected == 100
    assert dob.error.startswith("100 of 1,200 records rejected (8%), over the 5% limit")
    assert "no usable location" in dob.error
    assert summaries["hpd_violations"].error is None
    status, error, stats = run_row(fresh_db, run_id)
    assert status == "partial" and error.startswith("dob_violations: 100 of 1,200")
    assert sum(stats["dob_violations"]["reject_reasons"].values()) == 100

    run_id, _ = run(fresh_db, real_server, ["dob_violations"], incremental=False)
    assert run_row(fresh_db, run_id)[0] == "failed"  # its only dataset failed


def test_rejects_within_the_threshold_leave_the_run_succeeded(fresh_db, real_server):
    one = [{"isn_dob_bis_viol": "99000001", "violation_type_code": "E", "issue_date": "20240105"}]
    real_server.apply_changes({"datasets": {"3h2n-5cm9": {"insert": one}}})
    run_id, summaries = run(fresh_db, real_server, ["dob_violations"], incremental=False)
    assert summaries["dob_violations"].rejected == 1 and summaries["dob_violations"].error is None
    status, _, stats = run_row(fresh_db, run_id)
    assert status == "succeeded"
    assert orjson.loads(orjson.dumps(stats))["dob_violations"]["reject_reasons"]
