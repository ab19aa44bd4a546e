"""A test that uses a PostgreSQL, Redis or Ray fixture, directly or through another fixture, is marked
`integration` at collection (tests/conftest.py), so `make test-fast` (`-m "not integration"`) needs no service."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

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


def collected(tmp_path: Path, marks: str) -> list[str]:
    sample = tmp_path / "test_sample.py"
    sample.write_text(SAMPLE)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "--collect-only", "-q", "-m", marks, str(sample)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 5), result.stdout + result.stderr  # 5: every test deselected
    return sorted(line.split("::", 1)[1] for line in result.stdout.splitlines() if "::" in line)


def test_every_service_fixture_user_is_marked_and_no_other(tmp_path):
    """One collection (each is a new interpreter): `-m "not integration"` leaves the complement of these."""
    assert collected(tmp_path, "integration") == [
        "test_database_via_fixtures",
        "test_postgres",
        "test_ray",
        "test_redis",
    ]
