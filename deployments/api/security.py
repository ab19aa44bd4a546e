"""Authentication (JWT bearer tokens or API keys), rate limiting and authorization, as FastAPI dependencies.

`Depends(require(Permission.X))` on a route: authenticate, count the request against the caller's rate limit
(429 + Retry-After when over), then `authorize`. Unauthenticated routes (token, refresh) are limited per IP.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
from fastapi import Request

from deployments.api.deps import Deps
from deployments.api.errors import ApiError
from sentinel.auth.api_keys import check_key_usable, parse_api_key, verify_api_key
from sentinel.auth.audit import record_audit
from sentinel.auth.errors import AuthError
from sentinel.auth.principal import Principal
from sentinel.auth.ratelimit import rate_limit_key
from sentinel.auth.rbac import Permission, authorize
from sentinel.auth.scopes import parse_scopes
from sentinel.auth.tokens import decode_access
from sentinel.logs import correlation_id

log = logging.getLogger(__name__)

_KEY_ROW = """
    SELECT id, org_id, user_id, key_hash, scopes, expires_at, revoked_at FROM api_keys WHERE prefix = %s
"""
_last_key_audit: dict[int, float] = {}


def deps_of(request: Request) -> Deps:
    return request.app.state.deps


def client_ip(request: Request) -> str:
    deps = deps_of(request)
    if deps.settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


def _credentials(request: Request) -> tuple[str, str]:
    key = request.headers.get("x-api-key")
    if key:
        return "api_key", key
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value:
        raise AuthError("missing bearer token or X-API-Key")
    value = value.strip()
    return ("api_key", value) if value.startswith("vs_") else ("jwt", value)


def _api_key_principal(deps: Deps, key: str, ip: str) -> Principal:
    prefix = parse_api_key(key)
    with deps.pool.connection() as conn:
        row = conn.execute(_KEY_ROW, (prefix,)).fetchone()
        if row is None or not verify_api_key(key, row[3]):
            raise AuthError("unknown api key")
        key_id, org_id, user_id, _, scopes, expires_at, revoked_at = row
        check_key_usable(expires_at=expires_at, revoked_at=revoked_at, now=deps.now())
        interval = deps.settings.key_use_audit_seconds
        now = time.monotonic()
        if interval == 0 or now - _last_key_audit.get(key_id, -1e18) >= interval:
            _last_key_audit[key_id] = now
            with conn.transaction():
                conn.execute("UPDATE api_keys SET last_used_at = now() WHERE id = %s", (key_id,))
                record_audit(
                    conn,
                    org_id=org_id,
                    actor=f"api_key:{key_id}",
                    action="api_key.used",
                    target=f"api_key:{key_id}",
                    details={"ip": ip},
                    request_id=correlation_id.get(),
                )
    return Principal.for_api_key(key_id=key_id, org_id=org_id, scopes=parse_scopes(scopes), user_id=user_id)


async def authenticate(request: Request) -> Principal:
    deps = deps_of(request)
    kind, value = _credentials(request)
    if kind == "jwt":
        return decode_access(value, deps.jwt_secret, now=deps.now()).principal()
    return await anyio.to_thread.run_sync(_api_key_principal, deps, value, client_ip(request))


def enforce_rate_limit(request: Request, limit: str, key: str) -> None:
    deps = deps_of(request)
    result = deps.limiter.hit(limit, key)
    if not result.allowed:
        deps.metrics.rate_limited(key.split(":", 1)[0])
        raise ApiError(
            429,
            "rate_limited",
            f"rate limit of {limit} exceeded; retry after {result.retry_after_header} s",
            headers={"Retry-After": result.retry_after_header},
        )


def require(permission: Permission) -> Any:
    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        enforce_rate_limit(request, deps_of(request).settings.rate_limit, rate_limit_key(principal))
        authorize(principal, permission)
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{permission.name.lower()}"
    return dependency


async def authenticated(request: Request) -> Principal:
    """Any authenticated caller (for `me`): rate-limited, no permission."""
    principal = await authenticate(request)
    enforce_rate_limit(request, deps_of(request).settings.rate_limit, rate_limit_key(principal))
    return principal


def audit(
    conn: Any, principal: Principal | None, action: str, target: str | None, details: dict[str, Any] | None = None
) -> None:
    record_audit(
        conn,
        org_id=principal.org_id if principal else None,
        actor=principal.actor if principal else "anonymous",
        action=action,
        target=target,
        details=details,
        request_id=correlation_id.get(),
    )
