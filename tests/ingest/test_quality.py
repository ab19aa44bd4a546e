"""Field problems are stored on the row and counted per run; duplicates within a page are counted; implausible
values are flagged. Real NYC rows through the replay server into real PostgreSQL, plus the CLI report."""

from __future__ import annotations

import psycopg
import pytest
from typer.testing import CliRunner

from sentinel.ingest.copy_batch import encode_batch
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from sentinel.normalize import normalize_page
from sentinel.quality import reason_kind


def test_reasons_are_counted_without_the_values_they_quote():
    assert reason_kind("unrecognized date format '2023-02-3O'") == "unrecognized date format"
    assert reason_kind("unknown 'Foo', taken as open") == "unknown, taken as open"
    assert reason_kind('not an amount "12,x"') == "not an amount"


def test_duplicate_keys_in_one_page_are_counted_and_the_later_state_kept(realdata):
    import orjson

    rows = orjson.loads((realdata / "hpd_violations/tablynn/housing_code_violations.json").read_bytes())[:50]
    later = dict(rows[3], currentstatus="VIOLATION CLOSED")
    batch = normalize_page("hpd_violations", [*rows, later, dict(rows[7])])
    assert batch.duplicates == 2
    assert len(batch.rows["violations"]) == 50
    kept = next(r for r in batch.rows["violations"] if r.source_id == later["violationid"])
    assert kept.raw["currentstatus"] == "VIOLATION CLOSED"
    assert encode_batch(batch).duplicates == 2


@pytest.mark.integration
def test_a_page_with_a_bad_date_shows_in_the_runs_stats_and_on_the_row(fresh_db, real_server, monkeypatch):
    client = SocrataSource(real_server.url).client
    hpd = client.get("wvxf-dwi5", order=":id", limit=2)
    bad_date = dict(hpd[0], novissueddate="2023-02-30T00:00:00.000")
    ecb = client.get("6bgk-3dad", order=":id", limit=1)
    negative = dict(ecb[0], penality_imposed="-2500.00")
    real_server.apply_changes({"datasets": {"wvxf-dwi5": {"update": [bad_date]}, "6bgk-3dad": {"update": [negative]}}})

    options = RunOptions(["hpd_violations", "ecb_violations"], incremental=False, page_size=300)
    run_id, summaries = run_serial(fresh_db, SocrataSource(real_server.url), options)
    by_name = {s.dataset: s for s in summaries}
    assert by_name["hpd_violations"].quality["novissueddate"] == {"impossible date": 1}
    assert by_name["ecb_violations"].quality["penality_imposed"] == {"implausible negative amount, kept": 1}
    with psycopg.connect(fresh_db) as conn:
        status, stats = conn.execute("SELECT status, stats FROM ingestion_runs WHERE id = %s", (run_id,)).fetchone()
        assert status == "succeeded"
        assert stats["hpd_violations"]["quality"]["novissueddate"] == {"impossible date": 1}
        issued, quality = conn.execute(
            "SELECT issued_date, quality FROM violations WHERE source = 'HPD' AND source_id = %s",
            (bad_date["violationid"],),
        ).fetchone()
        assert issued.isoformat() == bad_date["inspectiondate"][:10]  # HPD's fallback when the NOV date is bad
        assert quality == [
            {"field": "novissueddate", "raw": "2023-02-30T00:00:00.000",
             "reason": "impossible date '2023-02-30T00:00:00.000'"}
        ]  # fmt: skip
        penalty, quality = conn.execute(
            "SELECT penalty_imposed, quality FROM violations WHERE source = 'ECB' AND quality IS NOT NULL"
        ).fetchone()
        assert penalty == -2500 and quality[0]["field"] == "penality_imposed" and quality[0]["raw"] == "-2500.00"
        clean = conn.execute("SELECT count(*) FROM violations WHERE source = 'HPD' AND quality IS NULL").fetchone()
        assert clean[0] > 900  # a clean row stores nothing

    from cluster.cli import app

    monkeypatch.setenv("VS_DATABASE_URL", fresh_db)
    monkeypatch.setenv("VS_REDIS_URL", "redis://127.0.0.1:6379/0")
    from sentinel.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["quality", "--run", str(run_id)], env={"COLUMNS": "200"})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "novissueddate" in result.output and "impossible date" in result.output
    assert "implausible negative amount" in result.output
