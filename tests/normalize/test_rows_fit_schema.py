"""Normalized rows of every real sample COPY into the canonical tables (types, CHECK vocabularies, keys).

Rejects are the writer's to store (it adds run_id and raw_hash), so they are not copied here.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from sentinel.datasets import dataset_by_socrata_id
from sentinel.ingest.copy_batch import encode_table
from sentinel.normalize import normalize_page

pytestmark = pytest.mark.integration


def _copy(conn: psycopg.Connection, table: str, columns: tuple[str, ...], data: bytes) -> None:
    staging = sql.Identifier(f"staging_{table}")
    conn.execute(
        sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING ALL)").format(staging, sql.Identifier(table))
    )
    conn.execute(sql.SQL("TRUNCATE {}").format(staging))
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(staging, sql.SQL(", ").join(map(sql.Identifier, columns)))
    with conn.cursor().copy(statement) as copy:
        copy.write(data)


def test_rows_of_every_real_sample_copy_into_the_canonical_tables(db: psycopg.Connection, realdata: Path) -> None:
    from citysim.replay.formats import read_dataset_file, realdata_samples

    copied: dict[str, int] = {}
    for path, socrata_id in realdata_samples(realdata):
        dataset = dataset_by_socrata_id(socrata_id)
        batch = normalize_page(dataset, list(read_dataset_file(path, socrata_id)))
        for table, rows in batch.rows.items():
            # As the writer gets them: a violation's or complaint's record placed in its page.
            _copy(db, table, rows[0].columns, encode_table(dataset.name, rows).data)
            copied[table] = copied.get(table, 0) + len(rows)
    assert set(copied) == {
        "violations",
        "complaints",
        "properties",
        "buildings",
        "registrations",
        "registration_contacts",
    }
    db.rollback()
