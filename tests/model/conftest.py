"""The model tests' city: the product's synthetic city (`vsentinel synth` files with their ground truth), ingested
once per session through the replay server and the real normalizers and writer, and copied into a database of its
own per test module (the tests here change data)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from citysim.synth.city import write_city
from citysim.synth.config import SynthConfig
from sentinel.db.roles import url_with_user
from tests.conftest import (
    app_role_of,
    create_database_from,
    database_url_for,
    drop_database,
    ingest_city,
    migrated_database,
)

CITY = SynthConfig(buildings=400, start=date(2019, 1, 1), end=date(2025, 11, 30), seed=5)
CITY_END = CITY.end


@pytest.fixture(scope="session")
def model_city(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(the ingested city's database, used only as a template; the city's directory, ground truth included)."""
    city = tmp_path_factory.mktemp("model-city")
    write_city(CITY, city)
    name, _, url = migrated_database(pg_admin_url, prefix="vs_model_city")
    ingest_city(url, city)
    yield name, city
    drop_database(pg_admin_url, name)


@pytest.fixture(scope="module")
def city_url(pg_admin_url: str, model_city: tuple[str, Path]) -> Iterator[tuple[str, Path]]:
    """A copy of the ingested city for this module, as the application connects: (URL, city directory)."""
    template, city = model_city
    name = create_database_from(pg_admin_url, template, prefix="vs_model")
    yield url_with_user(database_url_for(pg_admin_url, name), app_role_of(template)), city
    drop_database(pg_admin_url, name)
