"""COPY text encoding: what the normalizer sends must read back in PostgreSQL exactly as the row it came from."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from sentinel.datasets import dataset_by_socrata_id
from sentinel.ingest import copy_codegen, copy_lines
from sentinel.ingest.copy_batch import encode_batch, encode_rows, encode_table, encode_value, line_encoder
from sentinel.ingest.writer import write_batch
from sentinel.normalize import normalize_page
from sentinel.raw_records import RECORD_COLUMNS, stored_record
from sentinel.records import ROW_TYPES, VIOLATION_COLUMNS, ViolationRow, copy_values
from sentinel.source_pages import PageReader, store_page
from tests.normalize.test_outcomes import hpd_violation

CHECKED = ("issued_date", "penalty_imposed", "balance_due", "source_updated_at")
AWKWARD = "tab\there, newline\nthere, cr\rhere, back\\slash, quote \" and 'apostrophe', unicode ÉÑ 漢字"


def violation(source_id: str, description: str | None, raw: dict) -> ViolationRow:
    return ViolationRow(
        source="HPD", source_id=source_id, bbl="2028100057", bin=None, borough=2, violation_class="C",
        severity="immediately_hazardous", category=None, description=description, status="open",
        status_raw="NOV SENT", issued_date=date(2024, 2, 29), status_date=None, certify_by_date=None,
        correct_by_date=None, certified_date=None, hearing_date=None, penalty_imposed=Decimal("1234.50"),
        amount_paid=Decimal("0"), balance_due=None, source_updated_at=datetime(2024, 3, 1, 12, 30, tzinfo=UTC),
        raw=raw, content_hash="h", warnings=[],
    )  # fmt: skip


def test_the_generated_line_functions_are_current():
    """copy_lines.py is what copy_codegen.py writes for the row classes as they are: a column added to a row
    class without regenerating fails here."""
    assert Path(copy_lines.__file__).read_text(encoding="utf-8") == copy_codegen.module_source()
    assert set(copy_lines.line_functions("\\N", {})) == set(ROW_TYPES)


def test_values_are_encoded_in_copy_text_form():
    assert encode_value(None) == "\\N"
    assert encode_value(True) == "t" and encode_value(False) == "f"
    assert encode_value(date(2024, 2, 29)) == "2024-02-29"
    assert encode_value(Decimal("12.50")) == "12.50"
    assert encode_value("a\tb\nc\\d\re") == "a\\tb\\nc\\\\d\\re"
    assert encode_value("nul\x00gone") == "nulgone"
    assert encode_rows([]) == b""


@pytest.mark.integration
def test_awkward_text_and_json_read_back_unchanged_through_copy(db: psycopg.Connection):
    raw = {"violationid": "1", "novdescription": AWKWARD, "nested": {"k": ["\\", "\t"]}}
    rows = [violation("1", AWKWARD, raw), violation("2", None, {"violationid": "2"}), violation("3", "\\N", {}),
            violation("4", "plain", raw)]  # fmt: skip
    db.execute("CREATE TEMP TABLE v_copy (LIKE violations INCLUDING DEFAULTS)")
    columns = ", ".join(VIOLATION_COLUMNS)
    encoded = encode_table("hpd_violations", rows)
    assert encoded.page is not None
    store_page(db, encoded.page)
    with db.cursor().copy(f"COPY v_copy ({columns}) FROM STDIN") as copy:
        copy.write(encoded.data)
    pages = PageReader(db)
    back = [
        (row["description"], stored_record(row, pages), *(row[c] for c in CHECKED))
        for row in db.cursor(row_factory=dict_row).execute(
            f"SELECT {', '.join(RECORD_COLUMNS)}, issued_date, penalty_imposed, balance_due, source_updated_at "
            "FROM v_copy ORDER BY source_id"
        )
    ]
    assert back[0] == (
        AWKWARD,
        raw,
        date(2024, 2, 29),
        Decimal("1234.50"),
        None,
        datetime(2024, 3, 1, 12, 30, tzinfo=UTC),
    )
    assert back[1][0] is None and back[1][1] == {"violationid": "2"}
    assert back[2][0] == "\\N"  # the text backslash-N, not a NULL
    assert back[3][0] == "plain" and back[3][1] == raw  # JSON escapes (backslashes) on the compiled path


def test_only_rows_with_a_value_to_escape_leave_the_compiled_path():
    encode = line_encoder(ViolationRow)
    assert encode(violation("1", "plain", {"novdescription": AWKWARD})) is not None
    assert encode(violation("2", None, {})) is not None
    for awkward in ("tab\there", "new\nline", "cr\rhere", "back\\slash", "\\N", "nul\x00"):
        assert encode(violation("3", awkward, {})) is None, awkward


@pytest.mark.integration
def test_compiled_lines_read_back_as_the_values_of_every_real_sample(db: psycopg.Connection, realdata):
    """Every table's rows from the real samples, COPYed as encoded lines and as psycopg's own rows, match."""
    from citysim.replay.formats import read_dataset_file, realdata_samples

    compiled = 0
    for path, socrata_id in realdata_samples(realdata):
        batch = normalize_page(dataset_by_socrata_id(socrata_id), list(read_dataset_file(path, socrata_id)))
        for table, rows in batch.rows.items():
            compiled += sum(line_encoder(type(rows[0]))(r) is not None for r in rows)
            columns = sql.SQL(", ").join(map(sql.Identifier, rows[0].columns))
            for name in ("lines", "values"):
                db.execute(
                    sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(
                        sql.Identifier(name), sql.Identifier(table)
                    )
                )
            with db.cursor().copy(sql.SQL("COPY lines ({}) FROM STDIN").format(columns)) as copy:
                copy.write(encode_rows(rows))
            with db.cursor().copy(sql.SQL("COPY values ({}) FROM STDIN").format(columns)) as copy:
                for row in rows:
                    copy.write_row(copy_values(row))
            text = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in rows[0].columns)
            differ = db.execute(
                sql.SQL("SELECT count(*) FROM ((SELECT {t} FROM lines EXCEPT ALL SELECT {t} FROM values) UNION ALL "
                        "(SELECT {t} FROM values EXCEPT ALL SELECT {t} FROM lines)) d").format(t=text)
            ).fetchone()[0]  # fmt: skip
            assert differ == 0, (path, table)
            assert db.execute("SELECT count(*) FROM lines").fetchone()[0] == len(rows)
            db.execute("DROP TABLE lines, values")
    assert compiled > 1000  # most rows took the compiled path, so it is what was compared
    db.rollback()


@pytest.mark.integration
def test_an_encoded_batch_merges_like_the_rows_it_came_from(db: psycopg.Connection):
    records = [hpd_violation(violationid="900001", novdescription=AWKWARD), hpd_violation(violationid="900002")]
    batch = encode_batch(normalize_page("hpd_violations", orjson.loads(orjson.dumps(records))))
    assert batch.tables["violations"].rows == 2
    stats = write_batch(db, batch)
    assert (stats.inserted, stats.updated, stats.unchanged) == (2, 0, 0)
    stored = (
        db.cursor(row_factory=dict_row)
        .execute(f"SELECT {', '.join(RECORD_COLUMNS)} FROM violations WHERE source = 'HPD' AND source_id = '900001'")
        .fetchone()
    )
    assert stored is not None and (stored["description"], stored_record(stored, PageReader(db))) == (
        AWKWARD,
        records[0],
    )
    again = write_batch(db, batch)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    db.rollback()


@pytest.mark.integration
def test_a_record_read_again_unchanged_is_not_locked_or_rewritten(db: psycopg.Connection):
    """A day re-publishes many records whose content did not change: the merge must leave their rows untouched.
    A row that reached ON CONFLICT only to be declined by its filter was still locked (xmax set): a page write."""
    first = [hpd_violation(violationid="905001"), hpd_violation(violationid="905002")]
    write_batch(db, encode_batch(normalize_page("hpd_violations", first)), run_id=1)
    closed = hpd_violation(violationid="905002", violationstatus="Close", currentstatus="VIOLATION CLOSED")
    stats = write_batch(db, encode_batch(normalize_page("hpd_violations", [first[0], closed])), run_id=2)
    assert (stats.inserted, stats.updated, stats.unchanged, stats.status_changes) == (0, 1, 1, 1)
    rows = db.execute(
        "SELECT source_id, status, last_run_id, xmax::text FROM violations WHERE source_id LIKE '90500_'"
        " ORDER BY source_id"
    ).fetchall()
    assert rows[0] == ("905001", "open", 1, "0")  # never locked: no lock bits, no page write for it
    assert rows[1][:3] == ("905002", "closed", 2)
    db.rollback()


@pytest.mark.integration
def test_a_first_read_copies_new_rows_straight_into_the_table(db: psycopg.Connection):
    records = [hpd_violation(violationid="910001", novdescription=AWKWARD), hpd_violation(violationid="910002")]
    batch = encode_batch(normalize_page("hpd_violations", orjson.loads(orjson.dumps(records))))
    stats = write_batch(db, batch, run_id=77, expect_new=True)
    assert (stats.inserted, stats.updated, stats.unchanged, stats.copied_new) == (2, 0, 0, 2)
    pages = PageReader(db)
    stored = [
        (row["source_id"], row["description"], stored_record(row, pages), row["last_run_id"], row["is_deleted"])
        for row in db.cursor(row_factory=dict_row).execute(
            f"SELECT {', '.join(RECORD_COLUMNS)}, last_run_id, is_deleted FROM violations "
            "WHERE source_id IN ('910001', '910002') ORDER BY source_id"
        )
    ]
    assert stored == [("910001", AWKWARD, records[0], 77, False), ("910002", None, records[1], 77, False)]
    db.rollback()


@pytest.mark.integration
def test_a_first_read_that_meets_an_existing_key_falls_back_to_the_merge(db: psycopg.Connection):
    first = [hpd_violation(violationid="920001"), hpd_violation(violationid="920002")]
    write_batch(db, encode_batch(normalize_page("hpd_violations", first)), run_id=1)
    closed = hpd_violation(violationid="920002", violationstatus="Close", currentstatus="VIOLATION CLOSED")
    second = [hpd_violation(violationid="920003"), closed]
    stats = write_batch(db, encode_batch(normalize_page("hpd_violations", second)), run_id=2, expect_new=True)
    assert (stats.inserted, stats.updated, stats.unchanged, stats.status_changes) == (1, 1, 0, 1)
    assert stats.copied_new == 0  # the COPY met key 920002 and was undone; the whole batch took the merge
    rows = db.execute(
        "SELECT source_id, status, last_run_id FROM violations WHERE source_id LIKE '92000_' ORDER BY source_id"
    ).fetchall()
    assert rows == [("920001", "open", 1), ("920002", "closed", 2), ("920003", "open", 2)]
    history = db.execute(
        "SELECT old_status, new_status, run_id FROM status_history WHERE source_id = '920002'"
    ).fetchall()
    assert history == [("open", "closed", 2)]
    db.rollback()


@pytest.mark.integration
def test_a_registration_counts_once_although_it_also_writes_its_building(db: psycopg.Connection):
    records = [
        {"registrationid": str(990000 + n), "buildingid": str(880000 + n), "boroid": "3", "block": "06176",
         "lot": f"{n + 1:04d}", "bin": str(3990000 + n), "housenumber": "1", "streetname": "TEST STREET"}
        for n in range(3)
    ]  # fmt: skip
    batch = encode_batch(normalize_page("hpd_registrations", records))
    assert set(batch.tables) == {"registrations", "buildings"}
    stats = write_batch(db, batch)
    # The summary compares these with the records fetched: three records, three inserted (not six).
    assert (stats.inserted, stats.updated, stats.unchanged) == (3, 0, 0)
    assert stats.by_table["buildings"][0] == 3
    again = write_batch(db, batch)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    db.rollback()
