"""Fixtures for the alert tests: one migrated template database per session, a fresh copy of it per test
(the outbox drains every due row of its database, so tests must not share one), local SMTP and HTTP receivers."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from sentinel.db.roles import url_with_user
from tests.channels.conftest import receiver, smtp_server  # noqa: F401 - the local receivers, defined once
from tests.conftest import app_role_of, create_database_from, database_url_for, drop_database, migrated_database


@pytest.fixture(scope="session")
def alerts_template(pg_admin_url: str) -> Iterator[str]:
    name, _, _ = migrated_database(pg_admin_url, prefix="vs_alerts_tmpl")
    yield name
    drop_database(pg_admin_url, name)


@pytest.fixture
def db_url(pg_admin_url: str, alerts_template: str) -> Iterator[str]:
    """A copy of the template as the template's application role (a copy keeps the template's grants)."""
    name = create_database_from(pg_admin_url, alerts_template, prefix="vs_alerts")
    yield url_with_user(database_url_for(pg_admin_url, name), app_role_of(alerts_template))
    drop_database(pg_admin_url, name)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection
