"""The connection pool hands out working connections after the server drops them."""

from __future__ import annotations

import pytest

from sentinel.db.pool import create_pool

pytestmark = pytest.mark.integration


def test_pool_recovers_after_the_server_terminates_its_connections(database_url, db):
    pool = create_pool(database_url, min_size=2, max_size=2, name="droptest")
    try:
        with pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        killed = db.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'vsentinel-droptest'"
        ).fetchone()[0]
        db.commit()
        assert killed >= 1
        for _ in range(4):
            with pool.connection() as conn:
                assert conn.execute("SELECT 2").fetchone() == (2,)
    finally:
        pool.close()
