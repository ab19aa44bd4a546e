"""Real NYC samples for the normalization tests: ../shared/realdata beside the repo (CI clones it there)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

REALDATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata").resolve()


@pytest.fixture(scope="session")
def realdata() -> Path:
    if not (REALDATA / "SOURCES.md").is_file():
        pytest.skip(f"real NYC samples not found at {REALDATA} (clone shared/ beside the repo)")
    return REALDATA


@pytest.fixture(scope="session")
def read_sample(realdata: Path) -> Callable[[str, str], list[dict]]:
    from citysim.replay.formats import read_dataset_file

    def read(relative: str, socrata_id: str) -> list[dict]:
        return list(read_dataset_file(realdata / relative, socrata_id))

    return read
