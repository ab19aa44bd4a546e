"""A database of its own for the monitoring tests: every figure they check is an exact count of what they seeded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from tests.conftest import drop_database, migrated_database
from tests.monitoring.seed import seed_all


@pytest.fixture(scope="module")
def seeded_at() -> datetime:
    """The moment every seeded time is measured from."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def monitored_db(pg_admin_url: str, seeded_at: datetime) -> Iterator[str]:
    """The seeded database, as the application role: its URL."""
    name, owner_url, app_url = migrated_database(pg_admin_url, prefix="vs_mon")
    with psycopg.connect(owner_url) as conn:
        seed_all(conn, seeded_at)
    yield app_url
    drop_database(pg_admin_url, name)
