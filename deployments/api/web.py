"""The web app (web/dist, built by `make install`) served at `/` by the same FastAPI app on both engines.

Vite names every asset by its content hash, so /assets/* is cached for a year as immutable; index.html is never
cached (it names the current hashes), and every other path that is not the API falls back to it, so a client
route (/property/1000010001) survives a reload. The map's tile server is a setting: it reaches the page as meta
tags in index.html, so the app needs no extra request and no build per deployment.
"""

from __future__ import annotations

import gzip
import html
import mimetypes
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import anyio._core._fileio  # noqa: F401 -- see the note below
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.types import Receive, Scope, Send

from deployments.api.errors import not_found
from deployments.api.settings import ApiSettings

IMMUTABLE = "public, max-age=31536000, immutable"
COMPRESSIBLE = {".js", ".css", ".svg", ".json", ".map"}
NO_CACHE = "no-cache"
# Paths the SPA never owns: an unknown one is the API's JSON 404, not the app's page.
API_PREFIXES = ("v1/", "v1", "docs", "redoc", "openapi.json", "healthz", "readyz", "metrics")
NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ViolationSentinel</title></head>
<body><h1>The web app is not built</h1><p>Run <code>make install</code> (it needs Node 20 and npm), then reload.
The API is at <a href="/docs">/docs</a>.</p></body></html>"""

# FileResponse opens files through anyio, which imports its file module lazily on first use. Imported here, at
# start, so that import never runs on a request thread: CPython 3.11 keeps the AST builder's recursion counter per
# interpreter, and a module compiled in two threads at once failed with "AST constructor recursion depth mismatch".
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("image/svg+xml", ".svg")


def content_security_policy(tile_url: str) -> str:
    """Scripts, styles and requests from this origin only; images also from the tile server when one is set.
    Styles allow 'unsafe-inline' because Leaflet and uPlot position their elements with inline styles."""
    images = "'self' data:"
    if tile_url:
        parts = urlsplit(tile_url)
        images += f" {parts.scheme}://{parts.netloc.replace('{s}.', '*.')}"
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src {images}; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


@cache
def _gzipped(file: Path, mtime: float) -> bytes:
    """An asset compressed once per file version (they are few, immutable, and the JS bundle is large)."""
    return gzip.compress(file.read_bytes(), compresslevel=9)


@cache
def _index(path: Path, mtime: float, tile_url: str, attribution: str) -> str:
    """index.html with the map settings as meta tags (cached per file version and settings)."""
    meta = (
        f'<meta name="vs-map-tiles" content="{html.escape(tile_url)}">'
        f'<meta name="vs-map-attribution" content="{html.escape(attribution)}">'
    )
    return path.read_text(encoding="utf-8").replace("</head>", f"{meta}</head>", 1)


def install(app: FastAPI, settings: ApiSettings) -> None:
    dist = settings.web_dir.resolve()
    assets = dist / "assets"
    csp = content_security_policy(settings.map_tile_url)

    @app.api_route("/assets/{name:path}", methods=["GET", "HEAD"], include_in_schema=False)
    def asset(name: str, request: Request) -> Response:
        file = (assets / name).resolve()
        if not file.is_relative_to(assets) or not file.is_file():
            raise not_found(f"asset {name}")
        headers = {"Cache-Control": IMMUTABLE, "Content-Security-Policy": csp, "Vary": "Accept-Encoding"}
        if file.suffix in COMPRESSIBLE and "gzip" in request.headers.get("accept-encoding", ""):
            body = _gzipped(file, file.stat().st_mtime)
            media_type = mimetypes.guess_type(file.name)[0]
            return Response(body, media_type=media_type, headers={**headers, "Content-Encoding": "gzip"})
        return FileResponse(file, headers=headers)

    not_found_default = app.router.default

    def page(path: str) -> Response:
        file = (dist / path).resolve() if path else dist
        if path and file.is_relative_to(dist) and file.is_file() and file.name != "index.html":
            return FileResponse(file, headers={"Cache-Control": "public, max-age=3600", "Content-Security-Policy": csp})
        index = dist / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": NO_CACHE})
        body = _index(index, index.stat().st_mtime, settings.map_tile_url, settings.map_tile_attribution)
        return HTMLResponse(body, headers={"Cache-Control": NO_CACHE, "Content-Security-Policy": csp})

    # The page is the router's fallback rather than a catch-all route, so it answers only what no route matched,
    # whenever that route was added.
    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "/").lstrip("/")
        if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD") and not path.startswith(API_PREFIXES):
            await page(path)(scope, receive, send)
        else:
            await not_found_default(scope, receive, send)

    app.router.default = fallback
