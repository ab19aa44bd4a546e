"""What serving the built app means, checked against either engine (uvicorn here, Ray Serve in tests/api)."""

from __future__ import annotations

import re

import httpx


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
        assert asset.headers["content-encoding"] == "gzip"  # httpx asked for it, and decoded it
        plain = client.get(script.group(1), headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == asset.content
        assert int(asset.headers["content-length"]) < len(plain.content) / 2
        route = client.get("/property/1000010001")
        assert route.status_code == 200 and route.text == index.text
        assert client.get("/assets/missing-0000.js").status_code == 404
        missing = client.get("/v1/no-such-thing")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        assert client.get("/assets/..%2F..%2Fpyproject.toml").status_code == 404
        assert "[project]" not in client.get("/..%2Fpyproject.toml").text
        assert client.get("/openapi.json").json()["info"]["title"] == "ViolationSentinel API"
