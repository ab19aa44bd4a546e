"""A violation's packed source record (sentinel/raw_records.py): stored through the real COPY path, read back
as the record the source sent, and re-normalized to the very row that was stored."""

from __future__ import annotations

from pathlib import Path

import orjson
import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from citysim.replay.formats import read_dataset_file, realdata_samples
from sentinel.datasets import dataset_by_socrata_id
from sentinel.ingest.copy_batch import encode_batch, encode_rows
from sentinel.ingest.writer import write_batch
from sentinel.normalize import normalize_page
from sentinel.raw_records import FIELDS_IN_COLUMNS, RECORD_COLUMNS, pack, stored_record, unpack
from sentinel.records import VIOLATION_COLUMNS
from tests.normalize.test_outcomes import hpd_violation

COLUMNS = {"source_id": "10000197", "description": "PAINT", "class": "C", "status_raw": "NOV SENT OUT",
           "category": "502", "bbl": "2028100045", "bin": "2007730"}  # fmt: skip


def held(columns: dict) -> tuple:
    """The values `pack` takes: the columns FIELDS_IN_COLUMNS names, in its order."""
    return tuple(columns.get(column) for _, column, _ in FIELDS_IN_COLUMNS["violations", "HPD"])


def test_fields_held_by_columns_are_dropped_and_come_back_in_their_place():
    record = {"violationid": "10000197", "novdescription": "PAINT", "class": "C", "boro": "BRONX", "bin": "2007730"}
    packed = pack("violations", "HPD", record, held(COLUMNS))
    back = unpack(packed, "violations", "HPD", COLUMNS)
    assert list(back.items()) == list(record.items())  # the same keys in the same order
    assert b"PAINT" not in packed and packed[:2] == b"\x01\x01"


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
    """Bytes as ca8bd69's pack wrote them (zlib memLevel 8, field checks in a different loop): stored rows keep
    them, so a change to how `pack` runs must leave them readable."""
    stored = bytes.fromhex(
        "01015591cd0a80201084dfa5b3424841f52ae261fd392c842beeeaf3a79dea340cf3c10c8cb5cb8571988e748320e5d779aa3424"
        "dcc03c34538f8943c5328919b45a531616903601cc5c52986104498b53fba1ec5b003ec4cfbf66359b5e8d36e77f9e730f"
    )
    record = {":id": "row-abcd", "violationid": "10000197", "boro": "BRONX", "class": "C", "novdescription": "PAINT",
              "currentstatus": "NOV SENT OUT", "inspectiondate": "2024-02-29T00:00:00.000"}  # fmt: skip
    columns = {"source_id": "10000197", "description": "PAINT", "class": "C", "status_raw": "NOV SENT OUT"}
    assert list(unpack(stored, "violations", "HPD", columns).items()) == list(record.items())
    assert pack("violations", "HPD", record, held(columns)) == stored  # and packing it today gives the same bytes


def test_a_source_without_a_dictionary_or_pairs_is_deflated_whole():
    record = {"isn_dob_bis_viol": "1", "description": "x" * 300, "nested": {"k": ["\\", "\t"]}}
    packed = pack("violations", "DOB", record, ())
    assert packed[:2] == b"\x01\x00" and len(packed) < 100
    assert unpack(packed, "violations", "DOB", {}) == record


def _hpd_samples(realdata: Path) -> list[list[dict]]:
    return [list(read_dataset_file(p, i)) for p, i in realdata_samples(realdata) if i == "wvxf-dwi5"]


def test_real_hpd_records_pack_to_under_a_fifth_of_their_json(realdata: Path):
    records = [r for sample in _hpd_samples(realdata) for r in sample]
    assert len(records) >= 1100
    batch = normalize_page("hpd_violations", records)
    rows = batch.rows["violations"]
    packed = sum(len(row.raw_packed) for row in rows)
    as_json = sum(len(orjson.dumps(row.raw)) for row in rows)
    assert packed < as_json / 5, (packed, as_json)


@pytest.mark.integration
def test_re_normalizing_the_stored_record_gives_the_stored_row(db: psycopg.Connection, realdata: Path):
    """Every real violation sample (HPD, DOB, ECB, vacate orders) through the COPY path; each stored record
    reads back as sent, and normalizing it again and COPYing the result gives the same row, column for column."""
    checked = 0
    for path, socrata_id in realdata_samples(realdata):
        dataset = dataset_by_socrata_id(socrata_id)
        records = list(read_dataset_file(path, socrata_id))
        batch = normalize_page(dataset, records)
        if not batch.rows.get("violations"):
            continue
        write_batch(db, encode_batch(batch))
        keys = [row.source_id for row in batch.rows["violations"]]
        source = batch.rows["violations"][0].source
        with db.cursor(row_factory=dict_row) as cur:
            stored = cur.execute(
                sql.SQL("SELECT {} FROM violations WHERE source = %s AND source_id = ANY(%s)").format(
                    sql.SQL(", ").join(map(sql.Identifier, RECORD_COLUMNS))
                ),
                (source, keys),
            ).fetchall()
        assert len(stored) == len(keys)
        assert all(row["raw"] is None for row in stored)  # only the packed form is written
        again = [stored_record(row) for row in stored]
        # orjson keeps key order: the records come back with the same keys in the same order and the same values.
        assert sorted(map(orjson.dumps, again)) == sorted(orjson.dumps(row.raw) for row in batch.rows["violations"])
        db.execute("CREATE TEMP TABLE again (LIKE violations INCLUDING DEFAULTS)")
        with db.cursor().copy(
            sql.SQL("COPY again ({}) FROM STDIN").format(sql.SQL(", ").join(map(sql.Identifier, VIOLATION_COLUMNS)))
        ) as copy:
            copy.write(encode_rows(normalize_page(dataset, again).rows["violations"]))
        text = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in VIOLATION_COLUMNS)
        differ = db.execute(
            sql.SQL("SELECT count(*) FROM ((SELECT {t} FROM again EXCEPT ALL SELECT {t} FROM violations "
                    "WHERE source = %s AND source_id = ANY(%s)) UNION ALL (SELECT {t} FROM violations "
                    "WHERE source = %s AND source_id = ANY(%s) EXCEPT ALL SELECT {t} FROM again)) d").format(t=text),
            (source, keys, source, keys),
        ).fetchone()[0]  # fmt: skip
        assert differ == 0, path
        db.execute("DROP TABLE again")
        checked += len(keys)
    assert checked >= 1300  # HPD's 1,100 and the other agencies' samples were all compared
    db.rollback()


@pytest.mark.integration
def test_a_row_stored_as_json_before_packing_drops_it_when_it_changes(db: psycopg.Connection):
    record = hpd_violation(violationid="930001")
    write_batch(db, encode_batch(normalize_page("hpd_violations", [record])))
    # As a row written before migration 0025 looks.
    db.execute(
        "UPDATE violations SET raw = %s::json, raw_packed = NULL WHERE source_id = '930001'",
        (orjson.dumps(record).decode(),),
    )
    with db.cursor(row_factory=dict_row) as cur:
        query = sql.SQL("SELECT {} FROM violations WHERE source_id = '930001'").format(
            sql.SQL(", ").join(map(sql.Identifier, RECORD_COLUMNS))
        )
        assert stored_record(cur.execute(query).fetchone()) == record  # type: ignore[arg-type]
        changed = {**record, "violationstatus": "Close", "currentstatus": "VIOLATION CLOSED"}
        stats = write_batch(db, encode_batch(normalize_page("hpd_violations", [changed])))
        assert stats.updated == 1
        row = cur.execute(query).fetchone()
        assert row is not None and row["raw"] is None and row["raw_packed"] is not None
        assert stored_record(row) == changed
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("UPDATE violations SET raw_packed = NULL WHERE source_id = '930001'")
    db.rollback()
