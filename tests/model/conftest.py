"""A small synthetic city in its own database, per test module (the tests here change data)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest

from tests.conftest import drop_database, migrated_database
from training import canonical_city

CITY_START = date(2019, 1, 1)
CITY_END = date(2025, 11, 25)


@pytest.fixture(scope="module")
def city_url(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    name, _, url = migrated_database(pg_admin_url, prefix="vs_model")
    out = tmp_path_factory.mktemp("city")
    with psycopg.connect(url) as conn:
        canonical_city.generate(conn, out, buildings=400, start=CITY_START, end=CITY_END, seed=11)
    yield url, out
    drop_database(pg_admin_url, name)
