"""A violation's or complaint's source record: packed in its row as rows written before migration 0033 keep it
(sentinel/raw_records.py), and through the real COPY path in its page (sentinel/source_pages.py), read back as the
record the source sent and re-normalized to the very row that was stored."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from citysim.replay.formats import read_dataset_file, realdata_samples
from sentinel.datasets import dataset_by_socrata_id
from sentinel.ingest.copy_batch import encode_batch
from sentinel.ingest.writer import write_batch
from sentinel.normalize import normalize_page
from sentinel.raw_records import (
    DICTIONARY_OF_FAMILY,
    FIELDS_IN_COLUMNS,
    pack,
    packed_payload,
    payload,
    record_columns,
    stored_record,
    unpack,
)
from sentinel.records import ROW_TYPES, copy_values
from sentinel.source_pages import PageReader
from tests.normalize.test_outcomes import hpd_violation

COLUMNS = {"source_id": "10000197", "description": "PAINT", "class": "C", "status_raw": "NOV SENT OUT",
           "category": "502", "bbl": "2028100045", "bin": "2007730"}  # fmt: skip

STORED_FORMAT_2 = (
    "0201208a25030022071617a0356ddd124113081cad58adfe02fecff9c9670cffc31004f181296628003318bcc24a61d34f0902451cb5a1"
    "6ef6a183355f67a4adb915a584dcebbad947a66384c9eaebcc66dceb9bb6781d5337db8ccde4754cc2cf090200123b588e1bcb0c"
)


def held(columns: dict) -> tuple:
    """The values `pack` takes: the columns FIELDS_IN_COLUMNS names, in its order."""
    return tuple(columns.get(column) for _, column, _ in FIELDS_IN_COLUMNS["violations", "HPD"])


def test_fields_held_by_columns_are_dropped_and_come_back_in_their_place():
    record = {"violationid": "10000197", "novdescription": "PAINT", "class": "C", "boro": "BRONX", "bin": "2007730"}
    packed = pack("violations", "HPD", record, held(COLUMNS))
    back = unpack(packed, "violations", "HPD", COLUMNS)
    assert list(back.items()) == list(record.items())  # the same keys in the same order
    assert b"PAINT" not in packed and packed[:2] == b"\x02\x01"


def test_a_field_that_differs_from_its_column_is_kept_and_a_source_null_stays_null():
    # The normalizer cleaned the description (stripped) and took status_raw from elsewhere: both stay as sent.
    record = {"violationid": "10000197", "novdescription": " PAINT ", "currentstatus": None, "class": "c"}
    back = unpack(pack("violations", "HPD", record, held(COLUMNS)), "violations", "HPD", COLUMNS)
    assert list(back.items()) == list(record.items())


def test_keys_in_the_datasets_order_pack_as_a_mask_and_any_other_order_comes_back_too():
    in_order = {":id": "row-abc", "violationid": "1", "boro": "BRONX", "story": "2", "class": "B", "nta": "X"}
    shuffled = dict(reversed(in_order.items()))
    packed = {
        name: pack("violations", "HPD", record, held({})) for name, record in (("in", in_order), ("out", shuffled))
    }
    assert list(unpack(packed["in"], "violations", "HPD", {}).items()) == list(in_order.items())
    assert list(unpack(packed["out"], "violations", "HPD", {}).items()) == list(shuffled.items())
    assert len(packed["in"]) < len(packed["out"])


def test_a_record_packed_by_the_first_format_still_reads_back():
    """Bytes as ca8bd69's pack wrote them (format 1: deflate, zlib memLevel 8, field checks in a different loop):
    stored rows keep them, so a change to how `pack` runs must leave them readable."""
    stored = bytes.fromhex(
        "01015591cd0a80201084dfa5b3424841f52ae261fd392c842beeeaf3a79dea340cf3c10c8cb5cb8571988e748320e5d779aa3424"
        "dcc03c34538f8943c5328919b45a531616903601cc5c52986104498b53fba1ec5b003ec4cfbf66359b5e8d36e77f9e730f"
    )
    record = {":id": "row-abcd", "violationid": "10000197", "boro": "BRONX", "class": "C", "novdescription": "PAINT",
              "currentstatus": "NOV SENT OUT", "inspectiondate": "2024-02-29T00:00:00.000"}  # fmt: skip
    columns = {"source_id": "10000197", "description": "PAINT", "class": "C", "status_raw": "NOV SENT OUT"}
    assert list(unpack(stored, "violations", "HPD", columns).items()) == list(record.items())
    # Packed today: format 2 (zstd) around the very same JSON, and it reads back the same.
    today = pack("violations", "HPD", record, held(columns))
    assert today[:2] == b"\x02\x01" and packed_payload(today) == packed_payload(stored)
    assert list(unpack(today, "violations", "HPD", columns).items()) == list(record.items())


def test_a_record_packed_by_the_second_format_still_reads_back():
    """Bytes as format 2's pack wrote them when it came (zstd 1.5.7 through zstandard 0.25, level 1): pinned, so a
    later zstd, level or format that stops reading them fails here."""
    stored = bytes.fromhex(STORED_FORMAT_2)
    record = {":id": "row-abcd", "violationid": "10000197", "boro": "BRONX", "class": "C", "novdescription": "PAINT",
              "currentstatus": "NOV SENT OUT", "inspectiondate": "2024-02-29T00:00:00.000"}  # fmt: skip
    columns = {"source_id": "10000197", "description": "PAINT", "class": "C", "status_raw": "NOV SENT OUT"}
    assert list(unpack(stored, "violations", "HPD", columns).items()) == list(record.items())


def test_an_unknown_format_is_an_error_that_says_so():
    with pytest.raises(ValueError, match="unknown packed record format 9"):
        unpack(b"\x09\x01abc", "violations", "HPD", {})


def test_a_source_without_a_dictionary_or_pairs_is_compressed_whole():
    record = {"isn_dob_bis_viol": "1", "description": "x" * 300, "nested": {"k": ["\\", "\t"]}}
    packed = pack("violations", "DOB", record, ())
    assert packed[:2] == b"\x02\x00" and len(packed) < 100
    assert unpack(packed, "violations", "DOB", {}) == record


def test_a_dob_complaints_text_dates_and_a_311_coordinate_come_back_from_their_columns():
    dob = {"complaint_number": "1000006", "status": "CLOSED", "date_entered": "12/30/1988", "bin": "1006289",
           "unit": "MAN.", "disposition_date": "01/04/1989", "inspection_date": "01/03/1989"}  # fmt: skip
    columns = {"source_id": "1000006", "status_raw": "CLOSED", "received_date": date(1988, 12, 30), "bin": "1006289",
               "subcategory": "MAN.", "status_date": date(1989, 1, 4)}  # fmt: skip
    fields = FIELDS_IN_COLUMNS["complaints", "DOB"]
    packed = pack("complaints", "DOB", dob, tuple(columns.get(column) for _, column, _ in fields))
    assert packed[1] == DICTIONARY_OF_FAMILY["complaints", "DOB"] and b"MAN." not in packed
    assert list(unpack(packed, "complaints", "DOB", columns).items()) == list(dob.items())
    # The inspection date differs from status_date (the disposition's): kept as sent, not filled from the column.
    assert len(orjson.loads(payload(("complaints", "DOB"), dob, tuple(columns.get(c) for _, c, _ in fields)))[2]) == 1
    # A coordinate written with more digits than Python's shortest repr of the same float stays as sent.
    sr = {"unique_key": "64451250", "latitude": "40.625990681603746", "longitude": "-73.937239000000005"}
    columns = {"source_id": "64451250", "latitude": 40.625990681603746, "longitude": -73.937239000000005}
    held_311 = tuple(columns.get(column) for _, column, _ in FIELDS_IN_COLUMNS["complaints", "311"])
    assert orjson.loads(payload(("complaints", "311"), sr, held_311))[2] == ["-73.937239000000005"]
    assert list(unpack(pack("complaints", "311", sr, held_311), "complaints", "311", columns).items()) == list(
        sr.items()
    )


def _stored(db: psycopg.Connection, table: str, source: str, keys: list[str]) -> list[dict]:
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            sql.SQL("SELECT {} FROM {} WHERE source = %s AND source_id = ANY(%s)").format(
                sql.SQL(", ").join(map(sql.Identifier, record_columns(table))), sql.Identifier(table)
            ),
            (source, keys),
        ).fetchall()


@pytest.mark.integration
def test_re_normalizing_the_stored_record_gives_the_stored_row(db: psycopg.Connection, realdata: Path):
    """Every real violation sample (HPD, DOB, ECB, vacate orders) and complaint sample (HPD, DOB, 311) through the
    COPY path; each stored record reads back as sent, and normalizing it again and COPYing the result gives the
    same row, column for column."""
    checked: dict[str, int] = {"violations": 0, "complaints": 0}
    for path, socrata_id in realdata_samples(realdata):
        dataset = dataset_by_socrata_id(socrata_id)
        records = list(read_dataset_file(path, socrata_id))
        batch = normalize_page(dataset, records)
        table = next((t for t in checked if batch.rows.get(t)), None)
        if table is None:
            continue
        write_batch(db, encode_batch(batch))
        rows = batch.rows[table]
        keys = [row.key for row in rows]
        source = rows[0].source
        stored = _stored(db, table, source, keys)
        assert len(stored) == len(set(keys)), path
        # Only the page form is written.
        assert all(row["raw"] is None and row["raw_packed"] is None and row["source_page"] for row in stored)
        pages = PageReader(db)
        again = [stored_record(row, pages, table) for row in stored]
        # orjson keeps key order: the records come back with the same keys in the same order and the same values.
        assert sorted(map(orjson.dumps, again)) == sorted({orjson.dumps(row.raw) for row in rows}), path
        # Where a record is kept depends on the page it came in, not on what it says.
        columns = tuple(c for c in ROW_TYPES[table].columns if c not in ("source_page", "source_line"))
        db.execute(sql.SQL("CREATE TEMP TABLE again (LIKE {} INCLUDING DEFAULTS)").format(sql.Identifier(table)))
        with db.cursor().copy(
            sql.SQL("COPY again ({}) FROM STDIN").format(sql.SQL(", ").join(map(sql.Identifier, columns)))
        ) as copy:
            for row in normalize_page(dataset, again).rows[table]:
                values = zip(ROW_TYPES[table].columns, copy_values(row), strict=True)
                copy.write_row([v for c, v in values if c in columns])
        text = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns)
        differ = db.execute(
            sql.SQL("SELECT count(*) FROM ((SELECT {t} FROM again EXCEPT ALL SELECT {t} FROM {table} "
                    "WHERE source = %s AND source_id = ANY(%s)) UNION ALL (SELECT {t} FROM {table} "
                    "WHERE source = %s AND source_id = ANY(%s) EXCEPT ALL SELECT {t} FROM again)) d").format(
                t=text, table=sql.Identifier(table)),
            (source, keys, source, keys),
        ).fetchone()[0]  # fmt: skip
        assert differ == 0, path
        db.execute("DROP TABLE again")
        checked[table] += len(stored)
    # HPD's 1,100 and the other agencies' violation samples; DOB's ~1,100, 311's 85 and HPD's 10 complaints.
    assert checked["violations"] >= 1300 and checked["complaints"] >= 1000, checked
    db.rollback()


_DOB_COMPLAINT = {"complaint_number": "1000006", "status": "ACTIVE", "date_entered": "12/30/1988", "bin": "1006289",
                  "inspection_date": "01/03/1989"}  # fmt: skip


def _in_row(form: str, table: str, record: dict, columns: dict) -> sql.Composable:
    """The SET clause that makes a row look as one written before migration 0033 (its record packed in it) or
    before 0025/0027 (its record as JSON)."""
    if form == "json":
        return sql.SQL("raw = {}::json, raw_packed = NULL").format(sql.Literal(orjson.dumps(record).decode()))
    source = columns["source"]
    held = tuple(columns.get(column) for _, column, _ in FIELDS_IN_COLUMNS.get((table, source), ()))
    return sql.SQL("raw = NULL, raw_packed = {}").format(sql.Literal(pack(table, source, record, held)))


@pytest.mark.integration
@pytest.mark.parametrize("form", ["json", "packed"])
@pytest.mark.parametrize(
    ("dataset", "table", "record", "change"),
    [
        ("hpd_violations", "violations", hpd_violation(violationid="930001"),
         {"violationstatus": "Close", "currentstatus": "VIOLATION CLOSED"}),
        ("dob_complaints", "complaints", _DOB_COMPLAINT, {"status": "CLOSED", "disposition_date": "01/04/1989"}),
    ],
    ids=["violation", "complaint"],
)  # fmt: skip
def test_a_row_stored_before_pages_moves_its_record_to_a_page_when_it_changes(
    db: psycopg.Connection, dataset: str, table: str, record: dict, change: dict, form: str
):
    write_batch(db, encode_batch(normalize_page(dataset, [record])))
    key = record["violationid" if table == "violations" else "complaint_number"]
    where = sql.SQL("WHERE source_id = {}").format(sql.Literal(key))
    with db.cursor(row_factory=dict_row) as cur:
        query = (
            sql.SQL("SELECT {} FROM {} ").format(
                sql.SQL(", ").join(map(sql.Identifier, record_columns(table))), sql.Identifier(table)
            )
            + where
        )
        columns = cur.execute(query).fetchone()
        assert columns is not None
        cur.execute(
            sql.SQL("UPDATE {} SET {}, source_page = NULL, source_line = NULL ").format(
                sql.Identifier(table), _in_row(form, table, record, columns)
            )
            + where
        )
        pages = PageReader(db)
        assert stored_record(cur.execute(query).fetchone(), pages, table) == record  # type: ignore[arg-type]
        # Read again unchanged, it stays as it was.
        assert write_batch(db, encode_batch(normalize_page(dataset, [record]))).unchanged == 1
        assert cur.execute(query).fetchone()["source_page"] is None  # type: ignore[index]
        changed = {**record, **change}
        assert write_batch(db, encode_batch(normalize_page(dataset, [changed]))).updated == 1
        row = cur.execute(query).fetchone()
        assert row is not None and row["raw"] is None and row["raw_packed"] is None and row["source_page"]
        assert stored_record(row, pages, table) == changed
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(sql.SQL("UPDATE {} SET source_page = NULL ").format(sql.Identifier(table)) + where)
    db.rollback()


def test_threads_pack_and_unpack_at_once_each_with_its_own_context():
    """A zstd context serves one call at a time; Serve's request threads and a normalizer's threads share the
    module: every thread's records must come back whole while the others pack and unpack theirs."""
    from concurrent.futures import ThreadPoolExecutor

    def round_trips(seed: int) -> int:
        good = 0
        for i in range(300):
            record = {"violationid": f"{seed}{i}", "novdescription": "PAINT " * (i % 40), "boro": "BRONX"}
            packed = pack("violations", "HPD", record, held({}))
            good += unpack(packed, "violations", "HPD", {}) == record
        return good

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(round_trips, range(8))) == [300] * 8
