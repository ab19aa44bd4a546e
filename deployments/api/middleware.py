"""One pure-ASGI middleware for what every request needs: a request id (accepted from X-Request-ID or made
up, returned, and set as the log correlation id), security headers, an access log line and metrics.

Pure ASGI rather than BaseHTTPMiddleware: it adds no task or stream per request (on 2 cores every hop counts).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from deployments.api.errors import BodyTooLarge, body_too_large
from deployments.metrics import Metrics
from sentinel.logs import correlated

log = logging.getLogger("deployments.api.access")

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"cache-control", b"no-store"),
]
# The interactive docs load their scripts and styles from a CDN; everything else is locked down.
_CSP_API = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DOC_PATHS = ("/docs", "/redoc")


def _request_id(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _REQUEST_ID_RE.match(candidate):
                return candidate
    return uuid.uuid4().hex


class RequestContextMiddleware:
    def __init__(self, app: Any, metrics: Metrics, echo_request_id: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        # Behind the Serve proxy, the proxy already passes X-Request-ID in (its own id when the client sent
        # none) and sets it on the response; adding it again would duplicate the header.
        self.echo_request_id = echo_request_id

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        started = time.perf_counter()
        status_holder = [500]
        path: str = scope.get("path", "")
        extra_headers = list(SECURITY_HEADERS)
        if self.echo_request_id:
            extra_headers.append((b"x-request-id", request_id.encode()))
        if not path.startswith(_DOC_PATHS):
            extra_headers.append(_CSP_API)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                own = message.get("headers", [])
                # A response that sets its own caching or CSP keeps it (the web app's assets and page do).
                present = {name.lower() for name, _ in own}
                message["headers"] = [*own, *(h for h in extra_headers if h[0] not in present)]
            await send(message)

        with correlated(request_id):
            try:
                await self.app(scope, receive, send_with_headers)
            finally:
                seconds = time.perf_counter() - started
                route = scope.get("route")
                template = getattr(route, "path", None) or "unmatched"
                self.metrics.request(template, scope.get("method", ""), status_holder[0], seconds)
                log.info(
                    "request",
                    extra={
                        "method": scope.get("method"),
                        "route": template,
                        "status": status_holder[0],
                        "ms": round(seconds * 1000, 2),
                    },
                )


class BodyLimitMiddleware:
    """Request bodies over `max_bytes` are refused with 413 before they are read.

    FastAPI reads a body before the route's dependencies run (authentication among them), so without this an
    unauthenticated client could make the process hold any body it sends. A declared Content-Length over the
    limit is answered at once, the body left unread; a streamed (chunked) body is counted as it arrives and cut
    at the limit. Not Starlette's RequestBodyLimitMiddleware: it lets the app run and then swaps whatever the app
    answered for a plain-text 413, outside this API's error shape and request id.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await body_too_large(self.max_bytes)(scope, receive, send)
            return
        received = 0

        async def counted_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted_receive, send)


def _content_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
