"""A test that uses a PostgreSQL, Redis or Ray fixture, directly or through another fixture, is marked
`integration` at collection (tests/conftest.py), so `make test-fast` (`-m "not integration"`) needs no service."""

from __future__ import annotations

import pytest

SAMPLE = """
import pytest


@pytest.fixture
def through_another(db):
    return db


def test_plain():
    pass


def test_postgres(pg_admin_url):
    pass


def test_redis(redis_url):
    pass


def test_ray(ray_cluster):
    pass


def test_database_via_fixtures(through_another):
    pass


@pytest.mark.parametrize("n", [1, 2])
def test_plain_parametrized(n):
    pass
"""


def collected(pytester: pytest.Pytester, marks: str) -> list[str]:
    """The sample's tests that `-m marks` selects, collected with this suite's conftest as a plugin (in this
    process: a new interpreter would import pytest and the conftest's imports again)."""
    pytester.makepyfile(test_sample=SAMPLE)
    result = pytester.runpytest_inprocess("-p", "tests.conftest", "--collect-only", "-q", "-m", marks)
    assert result.ret in (0, 5), result.stdout.str() + result.stderr.str()  # 5: every test deselected
    return sorted(line.split("::", 1)[1] for line in result.outlines if "::" in line)


def test_every_service_fixture_user_is_marked_and_no_other(pytester: pytest.Pytester) -> None:
    """`-m "not integration"` leaves the complement of these."""
    assert collected(pytester, "integration") == [
        "test_database_via_fixtures",
        "test_postgres",
        "test_ray",
        "test_redis",
    ]
