"""Fixtures of the foundation tests that run the CLI as separate processes."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A new data directory outside pytest's base temp: as root the embedded PostgreSQL runs as its own user and
    needs to traverse the path, and a concurrent pytest session resets `pytest-of-<user>` to 0700."""
    path = Path(tempfile.mkdtemp(prefix="vs-stack-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
