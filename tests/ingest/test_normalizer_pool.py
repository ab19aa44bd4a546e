"""The local engine's normalizer processes: what they give back is what normalizing in this process gives, a bad
page fails alone, and the processes end with the pool (real child processes over pipes)."""

from __future__ import annotations

import orjson
import pytest

from sentinel.datasets import load_datasets
from sentinel.ingest.normalizer_process import NormalizerPool
from sentinel.ingest.pages import normalize_body
from tests.ingest.conftest import normalizer_processes
from tests.ingest.test_pages import page_records, socrata_page


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
