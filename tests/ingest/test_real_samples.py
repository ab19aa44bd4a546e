"""Every real NYC sample file goes through the replay server and the ingester into the canonical tables."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import psycopg
import pytest

from citysim.replay.formats import read_dataset_file
from sentinel.datasets import load_datasets
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from tests.conftest import real_sources
from tests.ingest.conftest import count, stamped_server, table_checksums

pytestmark = pytest.mark.integration

ALL = list(load_datasets())
SNAPSHOT_AT = "2024-12-01T14:50:00.000Z"


def ingest(url: str, server, *, incremental: bool = False, page_size: int = 250):
    return run_serial(url, SocrataSource(server.url), RunOptions(datasets=ALL, incremental=incremental,
                                                                  page_size=page_size))  # fmt: skip


def distinct_keys(realdata, config) -> set[str]:
    keys = set()
    for path in real_sources(realdata)[config.socrata_id]:
        for row in read_dataset_file(path, config.socrata_id):
            if config.name == "service_requests_311" and row.get("agency") not in ("HPD", "DOB"):
                continue
            key = (row.get(config.natural_key) or "").strip()
            if key:
                keys.add(key)
    return keys


def test_every_real_sample_ingests_with_exact_counts_and_reasoned_rejects(fresh_db, real_server, realdata):
    _, summaries = ingest(fresh_db, real_server)
    assert not [s for s in summaries if s.error]
    with psycopg.connect(fresh_db) as conn:
        for config in load_datasets().values():
            expected = distinct_keys(realdata, config)
            table, key = config.target_table, {"properties": "bbl", "registrations": "registration_id",
                                               "registration_contacts": "contact_id"}.get(config.target_table,
                                                                                          "source_id")  # fmt: skip
            where = "source = %s" if config.source else "true"
            stored = {r[0].strip() for r in conn.execute(
                f"SELECT {key}::text FROM {table} WHERE {where}",
                (config.source,) if config.source else ())}  # fmt: skip
            rejected = {
                r[0]
                for r in conn.execute(
                    "SELECT source_key FROM rejects WHERE dataset = %s AND source_key IS NOT NULL", (config.name,)
                )
            }
            if config.name == "pluto":
                # PLUTO's bbl is a decimal string in the API ("1000010100.00000000") and its key in our table.
                expected = {k.split(".")[0] for k in expected}
            assert stored | (rejected - stored) == expected, config.name
            assert stored, f"{config.name}: nothing stored"
        reasons = [r[0] for r in conn.execute("SELECT reason FROM rejects")]
        assert reasons and all(len(reason) > 10 for reason in reasons)


def test_known_rows_have_their_canonical_values(fresh_db, real_server):
    ingest(fresh_db, real_server)
    with psycopg.connect(fresh_db) as conn:
        hpd = conn.execute(
            "SELECT bbl, bin, class, severity, status, status_raw, issued_date, certify_by_date, correct_by_date "
            "FROM violations WHERE source = 'HPD' AND source_id = '10018078'"
        ).fetchone()
        assert hpd == ("5002160073", "5147984", "C", "immediately_hazardous", "closed", "VIOLATION DISMISSED",
                       date(2013, 10, 28), date(2013, 11, 6), date(2013, 10, 26))  # fmt: skip
        # DOB lots are 5 characters whose first is a check digit: "00019" -> lot 0019.
        dob = conn.execute(
            "SELECT bbl, status, issued_date, status_date FROM violations "
            "WHERE source = 'DOB' AND source_id = '2286033'"
        ).fetchone()
        assert dob == ("1005770019", "closed", date(2018, 5, 7), date(2022, 5, 9))
        ecb = conn.execute(
            "SELECT bbl, status, issued_date, hearing_date, penalty_imposed, amount_paid, balance_due "
            "FROM violations WHERE source = 'ECB' AND source_id = '34830294Z'"
        ).fetchone()
        assert ecb == ("4033880022", "closed", date(2010, 1, 29), date(2010, 5, 25), Decimal("4000.00"),
                       Decimal("937.89"), Decimal("0.00"))  # fmt: skip


def test_reingesting_the_same_snapshot_changes_nothing(fresh_db, realdata, tmp_path):
    # Stamped days before the runs, as a publisher's rows are: rows stamped with the files' time (a fresh clone's
    # checkout, minutes before) lie within the overlap of the runs' reads and are rightly read again.
    with stamped_server(realdata, tmp_path, real_sources(realdata), SNAPSHOT_AT) as server:
        ingest(fresh_db, server)
        before = table_checksums(fresh_db)
        _, full_again = ingest(fresh_db, server)
        _, incremental = ingest(fresh_db, server, incremental=True)
    for summaries in (full_again, incremental):
        assert sum(s.inserted + s.updated + s.deleted for s in summaries) == 0
    assert sum(s.unchanged for s in full_again) > 0
    # The incremental run starts at its marks and finds nothing to read (nor has any full-replace dataset's source
    # version moved).
    assert sum(s.fetched for s in incremental) == 0
    assert table_checksums(fresh_db) == before
    assert count(fresh_db, "SELECT count(*) FROM status_history") == 0
    assert count(fresh_db, "SELECT count(*) FROM ingestion_runs WHERE status = 'succeeded'") == 3
