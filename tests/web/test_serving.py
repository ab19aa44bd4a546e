"""The gateway serves the built app: hashed assets cached for a year, index.html never cached, client routes
fall back to the page, and the API's own 404s stay JSON."""

from __future__ import annotations

import re

import httpx
import pytest

from deployments.api.app import create_app
from tests.api.conftest import make_deps
from tests.api.servers import running
from tests.web.conftest import Stack

pytestmark = pytest.mark.integration


def check_served(base: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        index = client.get("/")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        assert index.headers["cache-control"] == "no-cache"
        assert "script-src 'self'" in index.headers["content-security-policy"]
        script = re.search(r'src="(/assets/[^"]+\.js)"', index.text)
        assert script, index.text
        asset = client.get(script.group(1))
        assert asset.status_code == 200
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.headers["content-type"].startswith("text/javascript")
        route = client.get("/property/1000010001")
        assert route.status_code == 200 and route.text == index.text
        assert client.get("/assets/missing-0000.js").status_code == 404
        missing = client.get("/v1/no-such-thing")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        assert client.get("/assets/..%2F..%2Fpyproject.toml").status_code == 404
        assert "[project]" not in client.get("/..%2Fpyproject.toml").text
        assert client.get("/openapi.json").json()["info"]["title"] == "ViolationSentinel API"


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
