"""A partition whose read finds no rows (HPD violations with no borough, here) still gets a mark: the source's
newest :updated_at when the read was planned. The next run asks it only for rows changed since, instead of
reading it from scratch (a whole scan of the source for every run's empty partition), and still finds a row that
lands in it later."""

from __future__ import annotations

import logging
from urllib.parse import unquote_plus

import psycopg
import pytest

from sentinel.datasets import OTHER_PARTITION
from sentinel.ingest import watermarks
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource, parse_socrata_time
from tests.ingest.conftest import stamped_server

pytestmark = pytest.mark.integration

HPD = "wvxf-dwi5"


def run(url, server, incremental):
    _, summaries = run_serial(url, SocrataSource(server.url), RunOptions(["hpd_violations"], incremental=incremental,
                                                                         page_size=300))  # fmt: skip
    return summaries[0]


def other_mark(url):
    with psycopg.connect(url) as conn:
        mark = watermarks.load(conn, "hpd_violations", OTHER_PARTITION)
    assert mark is not None
    return mark.updated_at_mark, mark.completed


def other_partition_requests(caplog) -> list[str]:
    requests = [unquote_plus(r.getMessage()) for r in caplog.records if f"/resource/{HPD}" in r.getMessage()]
    return [r for r in requests if "boroid IS NULL" in r]


@pytest.fixture
def server(realdata, tmp_path):
    with stamped_server(realdata, tmp_path, [HPD], at="2026-11-01T00:00:00.000Z") as server:
        yield server


def test_an_empty_partition_is_marked_and_read_incrementally_after(fresh_db, server, caplog):
    newest = parse_socrata_time(SocrataSource(server.url).newest_updated_at(HPD))
    assert newest is not None
    assert run(fresh_db, server, incremental=False).fetched > 0
    assert other_mark(fresh_db) == (newest, True)  # the samples all have a borough: the partition read nothing

    caplog.set_level(logging.DEBUG, logger="citysim.replay.server")
    again = run(fresh_db, server, incremental=True)  # the marks are the snapshot's stamp, a month before the run
    assert (again.inserted, again.updated) == (0, 0)
    asked = other_partition_requests(caplog)
    assert asked and all(":updated_at >" in r for r in asked), asked
    # Every partition has its mark now: the run asked the source's newest :updated_at for nothing.
    assert not [r for r in caplog.records if ":updated_at DESC" in unquote_plus(r.getMessage())]

    # A violation with no borough is published: the next run finds it in the partition that was empty.
    row = {"violationid": "99999002", "block": "2810", "lot": "45", "bbl": "2028100045", "bin": "2007730",
           "class": "B", "violationstatus": "Open", "novissueddate": "2026-11-20T00:00:00.000"}  # fmt: skip
    server.apply_changes({"datasets": {HPD: {"insert": [row]}}})
    found = run(fresh_db, server, incremental=True)
    assert found.fetched == again.fetched + 1
    with psycopg.connect(fresh_db) as conn:
        written = conn.execute("SELECT count(*) FROM violations WHERE source_id = '99999002'").fetchone()[0]
        rejected = conn.execute("SELECT count(*) FROM rejects WHERE source_key = '99999002'").fetchone()[0]
    assert written + rejected == 1
    mark, completed = other_mark(fresh_db)
    assert completed and mark > newest
