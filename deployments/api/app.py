"""`create_app(deps)`: the whole HTTP API as a plain FastAPI app (uvicorn, tests, or the Serve gateway)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Callable

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from deployments.api import errors, web
from deployments.api.control_characters import refuse_control_characters
from deployments.api.deps import Deps
from deployments.api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from deployments.api.responses import JSONResponse
from deployments.api.routes import admin, alerts, auth, health, portfolios, properties, records, risk, webhooks

API_DESCRIPTION = """NYC building violations, complaints, deadlines, risk scores and alerts.

Authenticate with `Authorization: Bearer <access token>` (from `POST /v1/auth/token`) or with an API key
(`X-API-Key: vs_...` or `Authorization: Bearer vs_...`). Errors are JSON: `{"error": {"code", "message",
"details"}, "request_id"}`; quote the request id (also in the `X-Request-ID` header) when reporting a problem.
"""


def _lifespan(deps: Deps) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Both settings belong to the serving process and its event loop (see ApiSettings for why).
        anyio.to_thread.current_default_thread_limiter().total_tokens = deps.settings.blocking_threads
        sys.setswitchinterval(deps.settings.gil_switch_interval_ms / 1000)
        yield

    return lifespan


def create_app(deps: Deps, *, behind_serve_proxy: bool = False) -> FastAPI:
    app = FastAPI(
        lifespan=_lifespan(deps),
        title="ViolationSentinel API",
        version="1.0.0",
        description=API_DESCRIPTION,
        default_response_class=JSONResponse,
        responses=errors.ERROR_RESPONSES,
        dependencies=[Depends(refuse_control_characters)],
    )
    app.state.deps = deps
    errors.install(app)
    for module in (health, auth, admin, properties, records, portfolios, risk, alerts, webhooks):
        app.include_router(module.router)
    if deps.settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=deps.settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    web.install(app, deps.settings)
    app.add_middleware(BodyLimitMiddleware, max_bytes=deps.settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=deps.metrics, echo_request_id=not behind_serve_proxy)
    return app
