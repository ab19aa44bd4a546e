"""The gateway serves the built app: hashed assets cached for a year, index.html never cached, client routes
fall back to the page, and the API's own 404s stay JSON."""

from __future__ import annotations

import httpx
import pytest

from deployments.api.app import create_app
from tests.api.conftest import make_deps
from tests.api.servers import running
from tests.web.conftest import Stack
from tests.web.serving import check_served

pytestmark = pytest.mark.integration


def test_the_uvicorn_engine_serves_the_app(web_stack: Stack) -> None:
    check_served(web_stack.url)


def test_map_tiles_are_a_setting_passed_to_the_page(web_stack: Stack, redis_url: str) -> None:
    tiles = "https://{s}.tile.example.org/{z}/{x}/{y}.png"
    deps = make_deps(web_stack.database_url, redis_url, map_tile_url=tiles, map_tile_attribution="© Example")
    try:
        with running(create_app(deps)) as url:
            page = httpx.get(url, timeout=30)
    finally:
        deps.close()
    assert f'<meta name="vs-map-tiles" content="{tiles}">' in page.text
    assert "img-src 'self' data: https://*.tile.example.org" in page.headers["content-security-policy"]
