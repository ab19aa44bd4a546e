"""A database of its own for the monitoring tests: every figure they check is an exact count of what they seeded."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import drop_database, migrated_database
from tests.monitoring.seed import seed_all


@pytest.fixture(scope="module")
def monitored_db(pg_admin_url: str) -> Iterator[str]:
    """The seeded database, as the application role: its URL."""
    name, owner_url, app_url = migrated_database(pg_admin_url, prefix="vs_mon")
    with psycopg.connect(owner_url) as conn:
        seed_all(conn)
    yield app_url
    drop_database(pg_admin_url, name)
