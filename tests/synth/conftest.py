"""Small synthetic cities, generated once per test session (they are deterministic, so sharing is safe)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import orjson
import pytest

from citysim.synth import SynthConfig, write_city

SMALL = SynthConfig(buildings=400, start=date(2019, 1, 1), end=date(2021, 12, 31), seed=7, batch_size=150)


@pytest.fixture(scope="session")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "city"
    write_city(SMALL, out)
    return out


def read_rows(path: Path) -> Iterator[dict]:
    """Rows of a one-row-per-line API JSON file, checking the layout as it goes."""
    with path.open("rb") as fh:
        lines = fh.read().split(b"\n")
    assert lines[0] == b"[" and lines[-2] == b"]" and lines[-1] == b""
    body = lines[1:-2]
    for i, line in enumerate(body):
        last = i == len(body) - 1
        assert line.endswith(b",") != last, f"{path.name} line {i + 2}: comma rule broken"
        yield orjson.loads(line[:-1] if not last else line)
