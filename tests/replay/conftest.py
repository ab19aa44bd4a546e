"""Replay-server fixtures: a server over the real NYC samples, and sodapy clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sodapy import Socrata

from citysim.replay.server import ReplayServer, serve_in_background
from tests.conftest import real_sources

ADMIN_TOKEN = "test-admin-token"


def sodapy_client(server: ReplayServer, app_token: str | None = None) -> Socrata:
    adapter = requests.adapters.HTTPAdapter()
    return Socrata(server.domain, app_token, session_adapter={"prefix": "http://", "adapter": adapter}, timeout=30)


@pytest.fixture(scope="session")
def realdata_sources(realdata: Path) -> dict[str, list[Path]]:
    return real_sources(realdata)


@pytest.fixture(scope="session")
def real_server(realdata_sources: dict[str, list[Path]]) -> Iterator[ReplayServer]:
    """A read-only server over every real sample (tests that change data start their own)."""
    with serve_in_background(sources=realdata_sources) as server:
        yield server


@pytest.fixture
def client(real_server: ReplayServer) -> Iterator[Socrata]:
    c = sodapy_client(real_server)
    yield c
    c.close()
