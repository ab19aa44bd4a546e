"""The store keeps each row's values once: field columns are computed from the row's JSON, not stored beside it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

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
