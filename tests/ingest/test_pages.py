"""A page's bytes -> where it ends (rows, last row, newest :updated_at) and its COPY text."""

from __future__ import annotations

import orjson
import pytest

from sentinel.datasets import load_datasets
from sentinel.ingest import pages
from sentinel.ingest.pages import normalize_body, page_max_updated_at
from sentinel.records import ROW_TYPES
from sentinel.source_pages import page_records as stored_lines
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


def socrata_page(records: list[dict]) -> bytes:
    """The records as Socrata writes a page: one per line, each after the first with a leading comma."""
    return b"[" + b"\n,".join(orjson.dumps(r) for r in records) + b"]\n"


def page_records() -> list[dict]:
    records = [hpd_violation(violationid=str(900 + n), violationstatus="Open") for n in range(10)]
    records.append(hpd_violation(violationid="903", violationstatus="Close"))  # a key again, chunks later
    records.insert(4, {"violationid": "bad"})  # a reject
    for n, record in enumerate(records):
        record[":id"], record[":updated_at"] = f"row-{n}", f"2026-11-{n % 9 + 1:02}T00:00:00.000Z"
    return records


def test_a_page_one_row_per_line_is_read_a_line_at_a_time_and_gives_what_the_whole_parse_gives():
    config = load_datasets()["hpd_violations"]
    records = page_records()
    whole = normalize_body(config, orjson.dumps(records))  # one line: parsed whole
    body = socrata_page(records)
    assert pages._LinePage.of(body) is not None
    assert normalize_body(config, body) == whole
    closed_apart = body.removesuffix(b"]\n") + b"\n]\n"  # the closing bracket on a line of its own
    assert pages._LinePage.of(closed_apart) is not None
    assert normalize_body(config, closed_apart) == whole
    meta, batch = whole
    assert (meta.rows, meta.last_row, meta.max_updated_at) == (12, records[-1], "2026-11-09T00:00:00.000Z")
    assert batch.duplicates == 1 and len(batch.rejects) == 1 and batch.tables["violations"].rows == 10


def test_other_layouts_are_parsed_whole_with_the_same_result():
    config = load_datasets()["hpd_violations"]
    records = page_records()
    expected = normalize_body(config, orjson.dumps(records))
    pretty = orjson.dumps(records, option=orjson.OPT_INDENT_2)  # a row over many lines
    assert pages._LinePage.of(pretty) is None
    assert normalize_body(config, pretty) == expected
    # Lines that look like rows but are not (an array inside a record, broken over lines): found while reading.
    nested = [{**records[0], "notes": [{"n": 1}, {"n": 2}]}, *records[1:]]
    body = socrata_page(nested).replace(b'[{"n":1},', b'[{"n":1}\n,', 1)
    assert pages._LinePage.of(body) is not None
    assert normalize_body(config, body) == normalize_body(config, orjson.dumps(nested))


def test_a_broken_page_fails_with_the_parsers_error_in_either_layout():
    config = load_datasets()["hpd_violations"]
    body = socrata_page(page_records())
    for broken in (body[:-20], body.replace(b'"violationid"', b"violationid", 1)):
        with pytest.raises(orjson.JSONDecodeError):
            normalize_body(config, broken)


def test_the_page_of_records_keeps_each_line_as_the_source_sent_it():
    config = load_datasets()["hpd_violations"]
    records = page_records()
    # Valid JSON that orjson would write otherwise: spaces after the separators, an escaped slash, keys reversed.
    sent = [orjson.dumps(dict(reversed(r.items()))).replace(b'":"', b'": "').replace(b"/", b"\\/") for r in records]
    body = b"[" + b"\n,".join(sent) + b"]\n"
    meta, batch = normalize_body(config, body)
    _, whole = normalize_body(config, orjson.dumps(records))
    page = batch.tables["violations"].page
    assert page is not None
    kept = stored_lines(page.body)
    rows = [r for r in sent if b'"bad"' not in r]  # the reject has no row
    del rows[3]  # violation 903 again, later in the page: its later line is the one kept
    assert sorted(kept) == sorted(rows) and all(b"\\/" in line for line in kept if b"/" in line)
    whole_page = whole.tables["violations"].page
    assert whole_page is not None and [orjson.loads(r) for r in kept] == [
        orjson.loads(r) for r in stored_lines(whole_page.body)
    ]
    # The rows are the whole parse's but for the page they point into: the content hash is of the record, not its text.
    assert content_hashes(batch) == content_hashes(whole) and meta.rows == 12


def content_hashes(batch) -> list[bytes]:
    column = ROW_TYPES["violations"].columns.index("content_hash")
    return [line.split(b"\t")[column] for line in batch.tables["violations"].data.splitlines()]
