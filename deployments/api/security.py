"""Authentication (JWT bearer tokens or API keys), rate limiting and authorization, as FastAPI dependencies.

`Depends(require(Permission.X))` on a route: authenticate, count the request against the caller's rate limit
(429 + Retry-After when over), then `authorize`. Unauthenticated routes (token, refresh) are limited per IP.

Authentication checks the caller as it stands now, not as its token remembers it (sentinel.auth.user_state): a
JWT's user must still be active, in its organization and of the token's session generation, and its role is the
current one; an API key's creator must still be active, and the key's scopes are capped by the creator's role.
Failed token and API-key authentications are counted per client address (`auth_failure_limit`): past the limit
an API key from that address gets 429 before it is looked up, and a token that fails gets 429 instead of 401.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
from fastapi import Request

from deployments.api.deps import Deps
from deployments.api.errors import ApiError
from sentinel.auth import api_key_store
from sentinel.auth.api_keys import check_key_usable, parse_api_key, verify_api_key
from sentinel.auth.audit import record_audit
from sentinel.auth.errors import AuthError
from sentinel.auth.forwarded import client_address
from sentinel.auth.principal import Principal
from sentinel.auth.ratelimit import rate_limit_key
from sentinel.auth.rbac import Permission, authorize
from sentinel.auth.scopes import parse_scopes
from sentinel.auth.strength import WeakPasswordError, check_password
from sentinel.auth.tokens import decode_access
from sentinel.auth.user_state import key_scopes_for_creator, principal_for_token
from sentinel.logs import correlation_id

log = logging.getLogger(__name__)

_last_key_audit: dict[int, float] = {}
# A throttled address is written to the audit log once per this window, not once per refused request.
_THROTTLE_AUDIT = "1/minute"


def deps_of(request: Request) -> Deps:
    return request.app.state.deps


def client_ip(request: Request) -> str:
    """The client's address (sentinel.auth.forwarded): X-Forwarded-For counts only from `trusted_proxies`."""
    cached = getattr(request.state, "client_ip", None)
    if cached is None:
        peer = request.client.host if request.client else None
        trusted = deps_of(request).settings.trusted_networks
        cached = client_address(peer, request.headers.getlist("x-forwarded-for"), trusted)
        request.state.client_ip = cached
    return cached


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
        stored = api_key_store.by_prefix(conn, prefix)
        if stored is None or not verify_api_key(key, stored.key_hash):
            raise AuthError("unknown api key")
        key_id, org_id, user_id = stored.id, stored.org_id, stored.user_id
        check_key_usable(expires_at=stored.expires_at, revoked_at=stored.revoked_at, now=deps.now())
        effective = key_scopes_for_creator(parse_scopes(stored.scopes), key_org_id=org_id, creator=stored.creator())
        interval = deps.settings.key_use_audit_seconds
        now = time.monotonic()
        if interval == 0 or now - _last_key_audit.get(key_id, -1e18) >= interval:
            _last_key_audit[key_id] = now
            with conn.transaction():
                api_key_store.mark_used(conn, key_id)
                record_audit(
                    conn,
                    org_id=org_id,
                    actor=f"api_key:{key_id}",
                    action="api_key.used",
                    target=f"api_key:{key_id}",
                    details={"ip": ip},
                    request_id=correlation_id.get(),
                )
    return Principal.for_api_key(key_id=key_id, org_id=org_id, scopes=effective, user_id=user_id)


async def _jwt_principal(deps: Deps, token: str) -> Principal:
    claims = decode_access(token, deps.jwt_secret, now=deps.now())
    state = deps.user_states.cached(claims.user_id)
    if state is None or state.generation < claims.generation:
        # A miss, or a token newer than the cached state (issued right after a change): read the row itself.
        # Generations only grow, so a token older than the cached state is refused without one.
        state = await anyio.to_thread.run_sync(deps.user_states.load, claims.user_id)
    return principal_for_token(claims, state)


def _refuse_if_failing(request: Request, ip: str) -> None:
    deps = deps_of(request)
    result = deps.limiter.peek(deps.settings.auth_failure_limit, f"authfail:ip:{ip}")
    if not result.allowed:
        deps.metrics.rate_limited("authfail")
        raise ApiError(
            429,
            "rate_limited",
            f"too many failed authentications from this address; retry after {result.retry_after_header} s",
            headers={"Retry-After": result.retry_after_header},
        )


def _record_denial(deps: Deps, action: str, target: str | None, details: dict[str, Any]) -> None:
    with deps.pool.connection() as conn, conn.transaction():
        record_audit(
            conn,
            org_id=None,
            actor="anonymous",
            action=action,
            target=target,
            details=details,
            request_id=correlation_id.get(),
        )


async def _failed(request: Request, ip: str, kind: str, exc: AuthError) -> None:
    deps = deps_of(request)
    deps.limiter.hit(deps.settings.auth_failure_limit, f"authfail:ip:{ip}")
    details = {"ip": ip, "reason": exc.reason}
    await anyio.to_thread.run_sync(_record_denial, deps, f"auth.{kind}_rejected", None, details)


async def audit_throttled(request: Request, ip: str, action: str, target: str | None = None) -> None:
    """One audit row per address and minute for refused (429) authentication attempts."""
    deps = deps_of(request)
    if deps.limiter.hit(_THROTTLE_AUDIT, f"throttle-audit:{action}:{ip}").allowed:
        await anyio.to_thread.run_sync(_record_denial, deps, action, target, {"ip": ip})


async def _refuse_if_failing_audited(request: Request, ip: str) -> None:
    try:
        _refuse_if_failing(request, ip)
    except ApiError:
        await audit_throttled(request, ip, "auth.throttled")
        raise


async def authenticate(request: Request) -> Principal:
    """An API key costs a PostgreSQL lookup, so an address over its failure budget is refused before one; a JWT
    costs an HMAC and a Redis read, so the budget is consulted only when it fails (no extra round trip for the
    good ones)."""
    deps = deps_of(request)
    kind, value = _credentials(request)  # no credentials at all is a 401, not a failed attempt
    ip = client_ip(request)
    if kind == "api_key":
        await _refuse_if_failing_audited(request, ip)
    try:
        if kind == "jwt":
            return await _jwt_principal(deps, value)
        return await anyio.to_thread.run_sync(_api_key_principal, deps, value, ip)
    except AuthError as exc:
        if exc.reason == "token expired":  # our own signature, merely old: the client refreshes, nobody guesses
            raise
        if kind == "jwt":
            await _refuse_if_failing_audited(request, ip)
        await _failed(request, ip, "token" if kind == "jwt" else "api_key", exc)
        raise


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


def refuse_weak_password(password: str, email: str, field: str = "password") -> None:
    """The password policy as an API answer: a 422 that says why and what to do instead."""
    try:
        check_password(password, user_inputs=[email])
    except WeakPasswordError as weak:
        details = {"loc": ["body", field], "suggestions": weak.suggestions}
        raise ApiError(422, "weak_password", weak.message, details) from None
