"""The local engine's normalizer processes: what they give back is what normalizing in this process gives, a bad
page fails alone, and the processes end with the pool (real child processes over pipes)."""

from __future__ import annotations

import fcntl
import pickle
from pathlib import Path

import orjson
import pytest

from sentinel.datasets import load_datasets
from sentinel.ingest.normalizer_process import NormalizerPool, _Process
from sentinel.ingest.pages import normalize_body
from tests.ingest.conftest import normalizer_processes
from tests.ingest.test_pages import page_records, socrata_page
from tests.normalize.test_outcomes import hpd_violation


def test_pages_normalized_by_the_pool_equal_pages_normalized_here_and_a_bad_page_fails_alone():
    catalog = load_datasets()
    records = page_records()
    pages = [socrata_page(records[n:]) for n in range(6)]
    pool = NormalizerPool(2, catalog)
    try:
        assert len(normalizer_processes()) == 2  # started with the pool, before any page
        futures = [pool.submit("hpd_violations", body) for body in pages]
        bad = pool.submit("hpd_violations", b'[{"violationid": ')
        unknown = pool.submit("no_such_dataset", pages[0])
        after = pool.submit("hpd_violations", pages[0])
        assert [f.result(timeout=60) for f in futures] == [normalize_body(catalog["hpd_violations"], b) for b in pages]
        with pytest.raises(orjson.JSONDecodeError):
            bad.result(timeout=60)
        with pytest.raises(KeyError, match="no_such_dataset"):
            unknown.result(timeout=60)
        assert after.result(timeout=60) == normalize_body(catalog["hpd_violations"], pages[0])
        assert len(normalizer_processes()) == 2  # the bad pages cost no process
    finally:
        pool.close()
    assert normalizer_processes() == []


@pytest.mark.skipif(not hasattr(fcntl, "F_GETPIPE_SZ"), reason="pipe widths are a Linux setting")
def test_a_normalizer_process_pipes_are_as_wide_as_the_system_allows_and_carry_a_page_larger_than_that():
    limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    process = _Process(pickle.dumps(load_datasets()))
    try:
        assert process.popen.stdin is not None and process.popen.stdout is not None
        for pipe in (process.popen.stdin, process.popen.stdout):
            assert fcntl.fcntl(pipe.fileno(), fcntl.F_GETPIPE_SZ) == limit
        records = [hpd_violation(violationid=str(500_000 + n)) for n in range(8_000)]
        body = socrata_page(records)
        assert len(body) > 2 * limit
        ok, value = process.normalize("hpd_violations", body)
        assert ok and value == normalize_body(load_datasets()["hpd_violations"], body)
    finally:
        process.stop()
