"""A page's bytes -> where it ends (rows, last row, newest :updated_at) and its COPY text."""

from __future__ import annotations

import orjson

from sentinel.datasets import load_datasets
from sentinel.ingest.pages import normalize_body, page_max_updated_at
from tests.normalize.test_outcomes import hpd_violation


def test_the_newest_updated_at_of_a_page_with_and_without_the_system_field_everywhere():
    rows = [{":updated_at": "2026-01-02T00:00:00.000Z"}, {":updated_at": "2026-03-01T00:00:00.000Z"}, {}]
    assert page_max_updated_at(rows[:2]) == "2026-03-01T00:00:00.000Z"
    assert page_max_updated_at(rows) == "2026-03-01T00:00:00.000Z"  # a row without it does not hide the others
    assert page_max_updated_at([{}]) is None
    assert page_max_updated_at([]) is None


def test_a_page_body_reports_where_it_ends_and_encodes_its_rows():
    records = [hpd_violation(violationid=str(900 + n)) for n in range(3)]
    for n, record in enumerate(records):
        record[":id"], record[":updated_at"] = f"row-{n}", f"2026-11-0{n + 1}T00:00:00.000Z"
    records.append({"violationid": "bad"})  # no location: a reject, still part of the page
    meta, batch = normalize_body(load_datasets()["hpd_violations"], orjson.dumps(records))
    assert (meta.rows, meta.last_row, meta.max_updated_at) == (4, records[-1], "2026-11-03T00:00:00.000Z")
    assert batch.tables["violations"].rows == 3 and len(batch.rejects) == 1
    assert normalize_body(load_datasets()["hpd_violations"], b"[]")[0].last_row is None
