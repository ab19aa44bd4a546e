"""/v1/auth: OAuth2 password login, refresh, `me`, and API keys (created, listed, revoked)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from pydantic import BaseModel, Field

from deployments.api import login_throttle
from deployments.api.errors import ApiError, not_found
from deployments.api.security import (
    audit,
    authenticated,
    client_ip,
    deps_of,
    enforce_rate_limit,
    refuse_weak_password,
    require,
)
from deployments.api.strict_query import refuse_unknown_query_params
from sentinel.auth import api_key_store, organizations, sessions, users
from sentinel.auth.api_keys import generate_api_key
from sentinel.auth.errors import AuthError
from sentinel.auth.passwords import hash_password, needs_rehash, verify_password
from sentinel.auth.principal import Principal
from sentinel.auth.rbac import Permission
from sentinel.auth.scopes import Scope
from sentinel.auth.tokens import decode_refresh, issue_tokens

router = APIRouter(prefix="/v1/auth", tags=["auth"], dependencies=[Depends(refuse_unknown_query_params)])


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 -- the OAuth2 token type, not a secret
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class LogoutRequest(RefreshRequest):
    everywhere: bool = Field(default=False, description="end every session of this user, not only this one")


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=12, max_length=1024)


class Me(BaseModel):
    user_id: int | None
    org_id: int
    organization: str
    role: str
    via: str
    email: str | None
    scopes: list[str]


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(min_length=1)
    expires_in_days: int | None = Field(default=90, ge=1, le=3650, description="null: never expires")


class ApiKeyInfo(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class ApiKeyCreated(ApiKeyInfo):
    key: str = Field(description="the full key: shown once, store it now")


def _tokens(request: Request, user_id: int, org_id: int, role: str, generation: int) -> TokenResponse:
    deps = deps_of(request)
    access_ttl = timedelta(minutes=deps.settings.access_token_minutes)
    refresh_ttl = timedelta(days=deps.settings.refresh_token_days)
    pair = issue_tokens(
        user_id=user_id,
        org_id=org_id,
        role=role,
        secret=deps.jwt_secret,
        now=deps.now(),
        access_ttl=access_ttl,
        refresh_ttl=refresh_ttl,
        generation=generation,
    )
    return TokenResponse(
        access_token=pair.access_token,
        expires_in=int(access_ttl.total_seconds()),
        refresh_token=pair.refresh_token,
        refresh_expires_in=int(refresh_ttl.total_seconds()),
    )


def _account(conn: Any, email: str, password: str, organization: int | None) -> tuple[users.LoginAccount | None, bool]:
    """(the account, whether the password is its own). An e-mail is unique per organization (migration 0017), so
    it may have accounts in several: the password picks one, or `organization` does. A password that opens more
    than one is refused with a request to name the organization (its caller knows both passwords)."""
    rows = users.accounts_for_login(conn, email, organization)
    usable = [row for row in rows if row.is_active]
    if not usable:
        verify_password(password, None)  # as long as a real check: timing does not tell which e-mails exist
        return (rows[0] if rows else None), False
    matches = [row for row in usable if verify_password(password, row.password_hash)]
    if len(matches) > 1:
        raise ApiError(
            400,
            "ambiguous_account",
            "this e-mail and password open accounts in several organizations: add organization=<id> to the form",
        )
    return (matches[0], True) if matches else (usable[0], False)


@router.post("/token", response_model=TokenResponse, summary="Log in (OAuth2 password flow)")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=320, description="the user's email")],
    password: Annotated[str, Form(max_length=1024)],
    organization: Annotated[
        int | None,
        Form(ge=1, description="the organization's id: needed only when this e-mail has accounts in several"),
    ] = None,
) -> TokenResponse:
    """Wrong passwords are throttled per account (deployments/api/login_throttle.py): past the limits, 429 with
    Retry-After before the password is even checked."""
    deps = deps_of(request)
    ip = client_ip(request)
    enforce_rate_limit(request, deps.settings.auth_rate_limit, f"ip:{ip}")
    account = login_throttle.account_key(username)
    wait = login_throttle.throttled(deps, account, ip)
    if wait is not None:
        with deps.pool.connection() as conn, conn.transaction():
            audit(conn, None, "auth.login_throttled", None, {"ip": ip, "account": account})
        deps.metrics.rate_limited("login")
        raise ApiError(
            429,
            "rate_limited",
            f"too many wrong passwords for this account; retry after {wait.retry_after_header} s",
            headers={"Retry-After": wait.retry_after_header},
        )
    with deps.pool.connection() as conn:
        row, ok = _account(conn, username, password, organization)
        with conn.transaction():
            if not ok or row is None:
                user = Principal.for_user(user_id=row.id, org_id=row.org_id, role=row.role) if row else None
                audit(conn, user, "auth.login_failed", f"user:{row.id}" if row else None, {"ip": ip})
            else:
                user_id, org_id, role, stored, _, generation = row
                if needs_rehash(stored):
                    users.set_password_hash(conn, user_id, hash_password(password))
                user = Principal.for_user(user_id=user_id, org_id=org_id, role=role)
                audit(conn, user, "auth.login", f"user:{user_id}", {"ip": ip})
    if not ok or row is None:
        login_throttle.record_failure(deps, account, ip)
        raise AuthError("wrong email or password")
    login_throttle.record_success(deps, account, ip)
    return _tokens(request, user_id, org_id, role, generation)


@router.post("/refresh", response_model=TokenResponse, summary="Exchange a refresh token for new tokens")
def refresh(request: Request, body: RefreshRequest) -> TokenResponse:
    """A refresh token is good for one exchange; presenting a spent one again ends every session of its user
    (it was copied), and the audit log says so."""
    deps = deps_of(request)
    ip = client_ip(request)
    enforce_rate_limit(request, deps.settings.auth_rate_limit, f"ip:{ip}")
    claims = decode_refresh(body.refresh_token, deps.jwt_secret, now=deps.now())
    with deps.pool.connection() as conn, conn.transaction():
        row = users.lock_session_state(conn, claims.user_id)
        if row is None or not row.is_active or row.org_id != claims.org_id:
            raise AuthError("user no longer active")
        if sessions.session_ended(claims, row.sessions_valid_after) or claims.generation != row.session_generation:
            raise AuthError("session expired: ended by a change to the account, a logout everywhere or a replay")
        user = Principal.for_user(user_id=claims.user_id, org_id=row.org_id, role=row.role)
        spent_before = sessions.spend(conn, claims, "rotated")
        replayed = spent_before == "rotated"
        if replayed:
            sessions.end_all_sessions(conn, claims.user_id, deps.now())
            audit(conn, user, "auth.refresh_replayed", f"user:{claims.user_id}", {"ip": ip, "jti": claims.jti})
        elif spent_before is None:
            audit(conn, user, "auth.refresh", f"user:{claims.user_id}", {"ip": ip})
    if replayed:
        deps.user_states.invalidate(claims.user_id)
        raise AuthError("refresh token replayed: every session of this user expired")
    if spent_before == "logout":
        raise AuthError("session expired: logged out")
    return _tokens(request, claims.user_id, row.org_id, row.role, row.session_generation)


@router.post("/logout", status_code=204, summary="End this session (or every session) of the token's user")
def logout(request: Request, body: LogoutRequest) -> Response:
    deps = deps_of(request)
    ip = client_ip(request)
    enforce_rate_limit(request, deps.settings.auth_rate_limit, f"ip:{ip}")
    claims = decode_refresh(body.refresh_token, deps.jwt_secret, now=deps.now())
    with deps.pool.connection() as conn, conn.transaction():
        sessions.spend(conn, claims, "logout")  # already spent: logging out twice is not an error
        if body.everywhere:
            sessions.end_all_sessions(conn, claims.user_id, deps.now())
        audit(conn, claims.principal(), "auth.logout", f"user:{claims.user_id}", {"ip": ip,
              "everywhere": body.everywhere})  # fmt: skip
    if body.everywhere:
        deps.user_states.invalidate(claims.user_id)
    return Response(status_code=204)


@router.post("/password", status_code=204, summary="Change your own password (ends every session, this one too)")
def change_password(
    request: Request, body: PasswordChange, principal: Annotated[Principal, Depends(authenticated)]
) -> Response:
    """The current password is asked for (a stolen access token alone must not take the account over) and wrong
    ones count against the account's login throttle. Every session ends: sign in again with the new password."""
    if principal.via != "jwt" or principal.user_id is None:
        raise ApiError(403, "forbidden", "an API key has no password; sign in as a user to change yours")
    deps = deps_of(request)
    ip = client_ip(request)
    with deps.pool.connection() as conn:
        row = users.credentials(conn, principal.user_id)
    if row is None:
        raise AuthError("user no longer active")
    email, stored = row
    account = login_throttle.account_key(email)
    wait = login_throttle.throttled(deps, account, ip)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            f"too many wrong passwords for this account; retry after {wait.retry_after_header} s",
            headers={"Retry-After": wait.retry_after_header},
        )
    if not verify_password(body.current_password, stored):
        login_throttle.record_failure(deps, account, ip)
        with deps.pool.connection() as conn, conn.transaction():
            audit(conn, principal, "auth.password_change_failed", f"user:{principal.user_id}", {"ip": ip})
        raise ApiError(
            403, "wrong_password", "the current password is not right", {"loc": ["body", "current_password"]}
        )
    refuse_weak_password(body.new_password, email, field="new_password")
    with deps.pool.connection() as conn, conn.transaction():
        users.update_user(
            conn,
            org_id=principal.org_id,
            user_id=principal.user_id,
            password_hash=hash_password(body.new_password),
        )
        audit(conn, principal, "auth.password_changed", f"user:{principal.user_id}", {"ip": ip, "sessions_ended": True})
    deps.user_states.invalidate(principal.user_id)
    return Response(status_code=204)


@router.get("/me", response_model=Me, summary="Who am I")
def me(request: Request, principal: Annotated[Principal, Depends(authenticated)]) -> Me:
    with deps_of(request).pool.connection() as conn:
        organization = organizations.name_of(conn, principal.org_id)
        email = users.email_of(conn, principal.user_id) if principal.user_id is not None else None
    return Me(
        user_id=principal.user_id,
        org_id=principal.org_id,
        organization=organization or "",
        role=principal.role.value,
        via=principal.via,
        email=email,
        scopes=sorted(s.value for s in principal.scopes),
    )


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201, summary="Create an API key (shown once)")
def create_api_key(
    request: Request, body: ApiKeyCreate, principal: Annotated[Principal, Depends(require(Permission.API_KEYS_WRITE))]
) -> dict[str, Any]:
    deps = deps_of(request)
    full_key, prefix, key_hash = generate_api_key()
    expires_at = deps.now() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    scopes = sorted({s.value for s in body.scopes})
    with deps.pool.connection() as conn, conn.transaction():
        row = api_key_store.create(
            conn,
            org_id=principal.org_id,
            user_id=principal.user_id,
            name=body.name,
            prefix=prefix,
            key_hash=key_hash,
            scopes=scopes,
            expires_at=expires_at,
        )
        audit(conn, principal, "api_key.create", f"api_key:{row['id']}", {"name": body.name, "scopes": scopes})
    return {**row, "key": full_key}


@router.get("/api-keys", response_model=list[ApiKeyInfo], summary="List the organization's API keys")
def list_api_keys(
    request: Request, principal: Annotated[Principal, Depends(require(Permission.API_KEYS_READ))]
) -> list[dict[str, Any]]:
    with deps_of(request).pool.connection() as conn:
        return api_key_store.list_for_org(conn, principal.org_id)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyInfo, summary="Revoke an API key")
def revoke_api_key(
    request: Request, key_id: int, principal: Annotated[Principal, Depends(require(Permission.API_KEYS_WRITE))]
) -> dict[str, Any]:
    with deps_of(request).pool.connection() as conn, conn.transaction():
        row = api_key_store.revoke(conn, key_id, principal.org_id)
        if row is None:
            raise not_found("api key")  # another organization's key is indistinguishable from a missing one
        audit(conn, principal, "api_key.revoke", f"api_key:{key_id}")
    return row
