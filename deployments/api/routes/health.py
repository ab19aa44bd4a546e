"""Liveness and readiness (no authentication)."""

from __future__ import annotations

import logging
from typing import Any

import anyio
from fastapi import APIRouter, Request

from deployments.api.responses import JSONResponse
from deployments.api.security import deps_of
from sentinel.db.pool import ping

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _postgres_ok(request: Request) -> bool:
    try:
        ping(deps_of(request).pool, timeout=2)
        return True
    except Exception:
        log.exception("readiness: PostgreSQL did not answer")
        return False


@router.get("/readyz", summary="Readiness: PostgreSQL, Redis and the scorer")
async def readyz(request: Request) -> Any:
    deps = deps_of(request)
    postgres = await anyio.to_thread.run_sync(_postgres_ok, request)
    redis_ok = await anyio.to_thread.run_sync(deps.cache.ping)
    try:
        with anyio.fail_after(5):
            scorer = await deps.scorer.status()
        scorer_check = {"ok": True, "model_ready": scorer["ready"], "detail": scorer}
    except Exception:
        # An unauthenticated endpoint: the exception goes to the log (with the request id), not to the caller.
        log.exception("readiness: the scorer did not answer")
        scorer_check = {"ok": False, "model_ready": False, "detail": {"error": "the scorer did not answer"}}
    # Without PostgreSQL nothing works; without Redis (rate limits fall back to memory, no cache) or a model
    # (risk endpoints answer 503) the rest of the API still serves, so the gateway stays in rotation.
    status = "unavailable" if not postgres else ("ready" if redis_ok and scorer_check["model_ready"] else "degraded")
    body = {
        "status": status,
        "checks": {"postgres": {"ok": postgres}, "redis": {"ok": redis_ok}, "scorer": scorer_check},
    }
    return JSONResponse(body, status_code=503 if not postgres else 200)
