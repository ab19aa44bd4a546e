"""analyze_if_stale: the planner gets statistics after a run that changed much of a table, not after every run."""

from __future__ import annotations

import psycopg

from sentinel.ingest.pipeline import analyze_if_stale


def _reltuples(conn: psycopg.Connection) -> float:
    return conn.execute("SELECT reltuples FROM pg_class WHERE oid = 'violations'::regclass").fetchone()[0]


def _insert(conn: psycopg.Connection, first: int, count: int) -> None:
    conn.execute(
        "INSERT INTO violations (source, source_id, bbl, status, severity, raw, content_hash) "
        "SELECT 'HPD', i::text, '1000010001', 'open', 'unknown', '{}', md5(i::text) "
        "FROM generate_series(%s::int, %s::int) i",
        (first, first + count - 1),
    )


def test_a_never_analyzed_table_is_analyzed_after_its_first_load(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        _insert(conn, 1, 2000)
        assert _reltuples(conn) < 0  # never analyzed: the planner guesses
        assert analyze_if_stale(conn, "violations", changed=2000)
        assert _reltuples(conn) == 2000


def test_a_small_change_leaves_the_statistics_to_autovacuum(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        _insert(conn, 1, 2000)
        assert analyze_if_stale(conn, "violations", changed=2000)
        _insert(conn, 2001, 150)
        assert not analyze_if_stale(conn, "violations", changed=150)  # 7.5 % of the table
        assert _reltuples(conn) == 2000
        assert not analyze_if_stale(conn, "violations", changed=0)
        _insert(conn, 2151, 300)
        assert analyze_if_stale(conn, "violations", changed=450)  # 22.5 %
        assert _reltuples(conn) == 2450
