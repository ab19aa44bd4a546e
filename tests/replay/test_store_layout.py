"""The store keeps each row's values once: field columns are computed from the row's JSON, not stored beside it."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import orjson
import pytest

from citysim.replay.changes import apply_changes
from citysim.replay.errors import SodaError
from citysim.replay.formats import DataFileError
from citysim.replay.query import run_query
from citysim.replay.store import (
    _ID_ALPHABET,
    ReplayStore,
    _format_row_id,
    build_store,
    discover_sources,
    sequential_row_ids,
)


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_bytes(b"[\n" + b",\n".join(orjson.dumps(r) for r in rows) + b"\n]\n")


def test_field_columns_are_virtual_and_read_as_the_stored_text(tmp_path: Path) -> None:
    rows = [
        {"bbl": f"1{i:09d}", "borough": "MANHATTAN", "irrlotcode": i % 2 == 0, "numfloors": 3.5 if i else 7}
        for i in range(3000)
    ]
    _write(tmp_path / "64uk-42ks.json", rows)
    store = build_store(discover_sources(tmp_path), tmp_path / "store.sqlite", owns_file=True)
    try:
        table = store.tables["64uk-42ks"]
        conn = store.connection()
        kinds = {name: hidden for _, name, _, _, _, _, hidden in conn.execute(f'PRAGMA table_xinfo("{table.name}")')}
        assert kinds["__doc"] == 0 and kinds["bbl"] == 2 and kinds["irrlotcode"] == 2  # 2: virtual generated
        got = conn.execute(
            f'SELECT bbl, irrlotcode, numfloors, borough FROM "{table.name}" WHERE bbl IN (?, ?) ORDER BY bbl',
            ("1000000000", "1000000001"),
        ).fetchall()
        assert got == [("1000000000", "true", "7", "MANHATTAN"), ("1000000001", "false", "3.5", "MANHATTAN")]
        # Upserts rewrite the JSON only; the columns follow it.
        store.upsert("64uk-42ks", [{"bbl": "1000000001", "borough": "BRONX"}], "2026-12-01T00:00:00.000Z")
        assert conn.execute(f'SELECT borough FROM "{table.name}" WHERE __key = ?', ("1000000001",)).fetchone() == (
            "BRONX",
        )
        source = (tmp_path / "64uk-42ks.json").stat().st_size
        pages = (
            sqlite3.connect(store.db_path)
            .execute("SELECT sum(pgsize) FROM dbstat WHERE name = ?", (table.name,))
            .fetchone()[0]
        )
        # The row JSON plus system fields: a stored copy of every field would about double it.
        assert pages < 1.6 * source + 64 * 16384
    finally:
        store.close()


def test_fields_the_schema_does_not_know_become_columns_and_a_renamed_one_is_gone(tmp_path: Path) -> None:
    # HPD violations as a publisher might change them: `boroid` renamed `boro_id`, a new boolean field, the key
    # once spelled in capitals (one column to SQLite, which ignores case), nulls and system fields beside them.
    hpd = "wvxf-dwi5"
    rows = [
        {"violationid": str(i), "boro_id": str(1 + i % 5), "class": "C", "newflag": i % 2 == 0, "bin": None,
         ":updated_at": "2024-01-01T00:00:00.000Z"}
        for i in range(2500)
    ]  # fmt: skip
    rows.append({"VIOLATIONID": "999999", "boro_id": "3", "class": "A"})
    _write(tmp_path / f"{hpd}.json", rows)
    store = build_store(discover_sources(tmp_path), tmp_path / "store.sqlite", owns_file=True)
    try:
        got = _rows(store, hpd, select="violationid, boro_id, newflag", where="boro_id = '2'", order="violationid")
        assert got[0] == {"violationid": "1", "boro_id": "2", "newflag": False} and len(got) == 500
        assert _rows(store, hpd, where="newflag = 'true'", select="count(*) AS n") == [{"n": "1250"}]
        # The row that spelled the key in capitals is served as sent (to SQLite the two spellings are one column,
        # which reads the schema's spelling).
        (odd,) = _rows(store, hpd, where="class = 'A'")
        assert odd == {"VIOLATIONID": "999999", "boro_id": "3", "class": "A"}
        # System fields and nulls are not part of a stored row; `:updated_at` is the row's own.
        first = _rows(store, hpd, select=":updated_at, *", where="violationid = '0'")[0]
        assert first == {":updated_at": "2024-01-01T00:00:00.000Z", "violationid": "0", "boro_id": "1",
                         "class": "C", "newflag": True}  # fmt: skip
        # No row has the schema's `boroid`: asking for it is Socrata's no-such-column, not an empty answer.
        with pytest.raises(SodaError) as error:
            _rows(store, hpd, where="boroid = '2'")
        assert error.value.body["errorCode"] == "query.soql.no-such-column"
        assert {"violationid", "class", "boro_id", "newflag"} <= set(store.tables[hpd].fields)
        assert "boroid" not in store.tables[hpd].fields
    finally:
        store.close()


def _rows(store, dataset_id: str, **params: str) -> list[dict[str, object]]:
    result = run_query(store, dataset_id, [(f"${k}", v) for k, v in params.items()])
    return orjson.loads(b"".join(result.chunks))


@pytest.mark.parametrize("created_before_auto_vacuum", [False, True])
def test_stripped_rows_keep_what_an_incremental_reader_sees_and_free_their_pages(
    tmp_path: Path, created_before_auto_vacuum: bool
) -> None:
    sr = "erm2-nwe9"  # 311: read with a row filter (agency) and by borough partitions
    rows = [
        {"unique_key": str(i), "descriptor": "x" * 900, "agency": "HPD" if i % 3 else "NYPD", "borough": "BROOKLYN"}
        for i in range(3000)
    ]
    _write(tmp_path / f"{sr}.json", rows)
    other = [{"violationid": str(i), "novdescription": "y" * 900} for i in range(5000)]  # HPD's, kept whole
    _write(tmp_path / "wvxf-dwi5.json", other)
    if created_before_auto_vacuum:  # a store file from before auto_vacuum: freed pages go back by VACUUM
        sqlite3.connect(tmp_path / "store.sqlite").execute("CREATE TABLE older (a)").connection.close()
    store = build_store(discover_sources(tmp_path), tmp_path / "store.sqlite", owns_file=True)
    try:
        conn = store.connection()
        before = _rows(
            store, sr, select=":id,unique_key", where="agency in ('HPD', 'DOB') AND borough = 'BROOKLYN'", limit="5000"
        )
        loaded_at = _rows(store, sr, select="max(:updated_at) AS m")[0]["m"]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size_before = store.db_path.stat().st_size
        wal = store.db_path.with_name(store.db_path.name + "-wal")
        wal_sizes: list[int] = []
        disk: list[int] = []

        def before_statement(statement: str) -> None:
            if "wal_checkpoint" in statement:  # what the batch just committed is in the WAL now
                wal_sizes.append(wal.stat().st_size if wal.exists() else 0)
                disk.append(wal_sizes[-1] + store.db_path.stat().st_size)

        conn.set_trace_callback(before_statement)
        # In batches of 500 rows: the WAL never holds the whole table's rewrite (3000 rows of ~1 KB).
        # And the pages freed go back 16 at a time: moving the rows left whole (HPD's, after 311's in the file)
        # into them goes through the WAL a step at a time.
        stripped = store.strip_rows(
            sr, ["agency", "borough"], "2020-01-01T00:00:00.000Z", batch_rows=500, vacuum_step_pages=16
        )
        assert stripped == 3000
        conn.set_trace_callback(None)
        assert len(wal_sizes) >= 3000 // 500 + 1
        if created_before_auto_vacuum:
            assert max(wal_sizes[:-1]) < 0.5 * 3000 * 900  # the last checkpoint follows the VACUUM's copy
        else:
            # Neither the WAL nor the file ever holds a second copy of the rows left whole (HPD's, which a VACUUM
            # copies twice) nor of the stripped rows: the disk at its peak is the store before and the stubs.
            assert 0 < max(wal_sizes) < 0.5 * 3000 * 900
            assert max(disk) < size_before + 0.5 * 5000 * 900
        # The count and key set a reader reconciles deletions with, and the partition filter, are unchanged.
        after = _rows(
            store, sr, select=":id,unique_key", where="agency in ('HPD', 'DOB') AND borough = 'BROOKLYN'", limit="5000"
        )
        assert after == before and len(after) == 2000
        assert _rows(store, sr, where=f":updated_at > '{loaded_at}'") == []
        # The rows' bulk leaves the file.
        assert store.db_path.stat().st_size < size_before - 0.7 * 3000 * 900
        # A change to a stripped row brings the whole row back, with its :id.
        store.upsert(sr, [{**rows[7], "descriptor": "changed"}], "2026-12-01T00:00:00.000Z")
        (got,) = _rows(store, sr, select=":id,*", where=":updated_at > '2025-01-01T00:00:00'")
        ids = {r["unique_key"]: r[":id"] for r in before}
        assert list(got.items()) == [(":id", ids["7"]), *{**rows[7], "descriptor": "changed"}.items()]
    finally:
        store.close()


def test_a_load_committed_in_parts_keeps_its_wal_small_and_a_failed_one_leaves_no_table(tmp_path: Path) -> None:
    sr = "erm2-nwe9"
    rows = [{"unique_key": str(i), "descriptor": "x" * 900, "borough": "BRONX"} for i in range(3000)]
    store = ReplayStore(tmp_path / "store.sqlite")
    try:
        wal = store.db_path.with_name(store.db_path.name + "-wal")
        wal_sizes: list[int] = []

        def before_statement(statement: str) -> None:
            if "wal_checkpoint" in statement:
                wal_sizes.append(wal.stat().st_size if wal.exists() else 0)

        store.connection().set_trace_callback(before_statement)
        at = "2024-12-30T14:50:00.000Z"
        assert store.load_dataset(sr, iter(rows), seed="a", timestamp=at, commit_rows=5000) == 3000
        # One transaction: the whole dataset sat in the WAL until the end, which then gives it back.
        assert len(wal_sizes) == 1 and wal_sizes[0] > 3000 * 900
        assert wal.stat().st_size == 0
        wal_sizes.clear()
        assert store.load_dataset(sr, iter(rows), seed="b", timestamp=at, commit_rows=500) == 3000
        # The parts' WAL stays a part's size (the last checkpoint is the indexes', built after the rows).
        assert len(wal_sizes) >= 6 and 0 < max(wal_sizes[:-1]) < 0.4 * 3000 * 900
        assert _rows(store, sr, select="count(*) AS n") == [{"n": "3000"}]

        def cut_short():  # a file that fails to read after several parts were committed
            yield from rows[:2200]
            raise DataFileError(tmp_path / "x.json", 2201, "truncated")

        with pytest.raises(DataFileError):
            store.load_dataset(sr, cut_short(), seed="c", timestamp=at, commit_rows=500)
        assert sr not in store.tables
        names = [n for (n,) in store.connection().execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert not [n for n in names if "erm2" in n]
    finally:
        store.close()


def test_row_ids_are_twelve_base36_digits_in_socratas_shape() -> None:
    rng = random.Random(5)
    for n in [0, 35, 36, 36**12 - 1, 36**12, 2**64 - 1, *(rng.getrandbits(64) for _ in range(2000))]:
        digits = "".join(_ID_ALPHABET[n // 36**k % 36] for k in range(11, -1, -1))
        assert _format_row_id(n) == f"row-{digits[:4]}.{digits[4:8]}~{digits[8:]}"
    ids = sequential_row_ids("wvxf-dwi5|seed")
    first = [next(ids) for _ in range(3000)]
    assert len(set(first)) == 3000


def test_a_partial_read_reads_its_fields_indexes_not_the_whole_table_in_order(tmp_path: Path) -> None:
    """DOB complaints' partial read ORs comparisons of indexed fields: the stand-in lets SQLite read those
    indexes and sort what they hold (the order's index is not offered: `+__id`), and returns the same rows, in
    the same order, as walking `:id`; a keyset page of a partition still walks its index in order."""
    dob = "eabe-havv"
    random.seed(5)
    days = [f"12/{d:02d}/2024" for d in range(1, 29)]
    rows = [
        {"complaint_number": f"{1 + i % 5}{i:06d}", "status": "ACTIVE", "date_entered": random.choice(days),
         "inspection_date": random.choice(days), "disposition_date": random.choice(days)}
        for i in range(4000)
    ]  # fmt: skip
    _write(tmp_path / f"{dob}.json", rows)
    store = build_store(discover_sources(tmp_path), tmp_path / "store.sqlite", owns_file=True)
    try:
        conn = store.connection()
        statements: list[str] = []
        for either in (conn, store.connection(raw=True)):
            either.set_trace_callback(statements.append)
        asked = ("12/27/2024", "12/28/2024")
        listed = ", ".join(f"'{d}'" for d in asked)
        where = (f"starts_with(complaint_number, '3') AND ((complaint_number > '3003990' AND complaint_number < '4')"
                 f" OR date_entered IN ({listed}) OR inspection_date IN ({listed})"
                 f" OR disposition_date IN ({listed}))")  # fmt: skip
        got = _rows(store, dob, select=":id, complaint_number", where=where, order=":id", limit="10000")
        (partial,) = [s for s in statements if "date_entered" in s]
        assert "ORDER BY +" in partial
        plan = " ".join(str(p[3]) for p in conn.execute("EXPLAIN QUERY PLAN " + partial))
        assert "ds_" in plan and "SCAN" not in plan, plan  # index searches only, no walk of the table
        expected = [r["complaint_number"] for r in rows if r["complaint_number"].startswith("3") and (
            r["complaint_number"] > "3003990" or {r["date_entered"], r["inspection_date"], r["disposition_date"]}
            & set(asked))]  # fmt: skip
        assert sorted(r["complaint_number"] for r in got) == expected
        ids = [r[":id"] for r in got]
        assert ids == sorted(ids) and len(ids) > 50  # in `:id` order all the same
        statements.clear()
        _rows(store, dob, where=f"starts_with(complaint_number, '3') AND :id > '{ids[0]}'", order=":id", limit="100")
        (page,) = [s for s in statements if "LIMIT" in s]
        assert "ORDER BY +" not in page
    finally:
        store.close()


def test_an_incremental_read_of_a_borough_walks_that_boroughs_changes_only(tmp_path: Path) -> None:
    """`boroid = 2 AND :updated_at > T ORDER BY :updated_at, :id` (a partition's incremental page) searches the
    partition column's (column, :updated_at, :id) index: without it SQLite walked the :updated_at index through
    every borough's changes and read each row's borough out of its JSON. The rows are those changed, in order."""
    hpd = "wvxf-dwi5"
    rows = [{"violationid": str(i), "boroid": str(1 + i % 5), "class": "A"} for i in range(3000)]
    _write(tmp_path / f"{hpd}.json", rows)
    store = build_store(discover_sources(tmp_path), tmp_path / "store.sqlite", owns_file=True)
    try:
        (loaded,) = _rows(store, hpd, select=":updated_at", order=":updated_at DESC", limit="1")
        changed = [str(i) for i in range(0, 3000, 7)]
        apply_changes(store, {"datasets": {hpd: {"update": [{"violationid": k, "class": "C"} for k in changed]}}})
        conn = store.connection()
        statements: list[str] = []
        for either in (conn, store.connection(raw=True)):
            either.set_trace_callback(statements.append)
        where = f"boroid = 2 AND :updated_at > '{loaded[':updated_at']}'"
        got = _rows(store, hpd, where=where, order=":updated_at, :id", limit="10000")
        (page,) = [s for s in statements if "LIMIT" in s]
        plan = " ".join(str(p[3]) for p in conn.execute("EXPLAIN QUERY PLAN " + page))
        assert "_by_boroid_upd" in plan and "SCAN" not in plan and "TEMP B-TREE" not in plan, plan
        assert sorted(r["violationid"] for r in got) == sorted(k for k in changed if int(k) % 5 == 1)
        assert all(r["class"] == "C" for r in got) and len(got) > 50
    finally:
        store.close()


def test_a_days_updated_rows_move_together_to_the_tables_end_keeping_their_ids(tmp_path: Path) -> None:
    """Updated in place, a day's rows lay wherever they were loaded, one or two to a page, so reading a day read
    nearly every page of the table; each update now writes its row after every other, so a day's rows sit on a
    few pages, in the order they were written. The row's `:id`, `:created_at` and values are as before."""
    hpd = "wvxf-dwi5"
    rows = [{"violationid": str(i), "boroid": str(1 + i % 5), "class": "A"} for i in range(3000)]
    _write(tmp_path / f"{hpd}.json", rows)
    store = build_store(discover_sources(tmp_path), tmp_path / "store.sqlite", owns_file=True)
    try:
        name = store.tables[hpd].name
        conn = store.connection()
        before = {k: (i, c) for k, i, c in conn.execute(f'SELECT __key, __id, __created_at FROM "{name}"')}
        changed = [str(i) for i in random.Random(7).sample(range(3000), 300)]
        apply_changes(store, {"datasets": {hpd: {"update": [{"violationid": k, "class": "C"} for k in changed]}}})
        by_rid = [k for (k,) in conn.execute(f'SELECT __key FROM "{name}" ORDER BY __rid')]
        assert by_rid[-300:] == changed  # last, in the order written
        assert set(by_rid[:-300]) == set(before) - set(changed)
        after = {k: (i, c) for k, i, c in conn.execute(f'SELECT __key, __id, __created_at FROM "{name}"')}
        assert after == before
        got = _rows(store, hpd, where="class = 'C'", limit="5000")
        assert sorted(r["violationid"] for r in got) == sorted(changed)
    finally:
        store.close()
