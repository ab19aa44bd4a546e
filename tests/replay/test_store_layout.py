"""The store keeps each row's values once: field columns are computed from the row's JSON, not stored beside it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from citysim.replay.query import run_query
from citysim.replay.store import build_store, discover_sources


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


def _rows(store, dataset_id: str, **params: str) -> list[dict[str, object]]:
    result = run_query(store, dataset_id, [(f"${k}", v) for k, v in params.items()])
    return orjson.loads(b"".join(result.chunks))


def test_stripped_rows_keep_what_an_incremental_reader_sees_and_free_their_pages(tmp_path: Path) -> None:
    sr = "erm2-nwe9"  # 311: read with a row filter (agency) and by borough partitions
    rows = [
        {"unique_key": str(i), "descriptor": "x" * 900, "agency": "HPD" if i % 3 else "NYPD", "borough": "BROOKLYN"}
        for i in range(3000)
    ]
    _write(tmp_path / f"{sr}.json", rows)
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

        def before_statement(statement: str) -> None:
            if "wal_checkpoint" in statement:  # what the batch just committed is in the WAL now
                wal_sizes.append(wal.stat().st_size if wal.exists() else 0)

        conn.set_trace_callback(before_statement)
        # In batches of 500 rows: the WAL never holds the whole table's rewrite (3000 rows of ~1 KB).
        assert store.strip_rows(sr, ["agency", "borough"], "2020-01-01T00:00:00.000Z", batch_rows=500) == 3000
        conn.set_trace_callback(None)
        largest_wal = max(wal_sizes[:-1])  # the last checkpoint follows the VACUUM
        assert len(wal_sizes) == 3000 // 500 + 1 and 0 < largest_wal < 0.5 * 3000 * 900
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
