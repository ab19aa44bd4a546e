"""The serving process's own tuning: a bounded pool for blocking work and a short GIL switch interval."""

from __future__ import annotations

import sys

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from deployments.api.app import create_app
from tests.api.conftest import make_deps

pytestmark = pytest.mark.integration


def test_the_app_bounds_its_blocking_threads_and_shortens_the_gil_switch_interval(database_url, redis_url):
    deps = make_deps(database_url, redis_url, blocking_threads=3, gil_switch_interval_ms=2)
    app = create_app(deps)
    seen: dict[str, int] = {}

    @app.get("/probe-threads")
    async def probe() -> dict[str, int]:
        seen["tokens"] = int(anyio.to_thread.current_default_thread_limiter().total_tokens)
        return seen

    before = sys.getswitchinterval()
    try:
        with TestClient(app) as client:
            assert client.get("/probe-threads").json() == {"tokens": 3}
            assert sys.getswitchinterval() == pytest.approx(0.002)
    finally:
        sys.setswitchinterval(before)
        deps.close()
