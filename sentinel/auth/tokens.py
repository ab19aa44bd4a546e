"""Session tokens: short-lived JWT access tokens and longer-lived refresh tokens (HS256, pyjwt).

Why HS256: the gateway both issues and verifies, so one shared secret is enough (no key distribution).
The algorithm list is pinned on decode, which closes the `alg: none` and algorithm-confusion attacks.
Time checks are done here against an injected `now` instead of by pyjwt against the wall clock, so tests
can move the clock and replicas can share a leeway policy.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt

from sentinel.auth.errors import AuthError
from sentinel.auth.principal import Principal, Role

ALGORITHM = "HS256"
ISSUER = "violation-sentinel"
ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=7)
# Replicas' clocks drift a little; a few seconds of grace avoids spurious 401s at the edge of expiry.
LEEWAY = timedelta(seconds=5)
# RFC 7518 section 3.2: an HMAC key must be at least as long as the hash output (32 bytes for SHA-256).
MIN_SECRET_BYTES = 32

TokenType = Literal["access", "refresh"]


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    refresh_jti: str  # lets the gateway record or revoke this refresh token


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    org_id: int
    role: Role
    type: TokenType
    jti: str
    issued_at: datetime
    expires_at: datetime
    generation: int = 0  # the user's session generation when issued (sentinel.auth.user_state)

    def principal(self) -> Principal:
        return Principal.for_user(user_id=self.user_id, org_id=self.org_id, role=self.role)


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware (a naive datetime is ambiguous across replicas)")
    return now


def _check_secret(secret: str) -> None:
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ValueError(f"JWT secret must be at least {MIN_SECRET_BYTES} bytes")


def _encode(
    *,
    user_id: int,
    org_id: int,
    role: Role,
    generation: int,
    type_: TokenType,
    now: datetime,
    ttl: timedelta,
    secret: str,
) -> tuple[str, datetime, str]:
    expires_at = now + ttl
    jti = uuid.uuid4().hex
    claims = {
        "iss": ISSUER,
        "sub": str(user_id),  # RFC 7519 (and pyjwt >= 2.10) require `sub` to be a string
        "org": org_id,
        "role": role.value,
        "type": type_,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": jti,
        "gen": generation,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires_at, jti


def issue_tokens(
    *,
    user_id: int,
    org_id: int,
    role: Role | str,
    secret: str,
    now: datetime | None = None,
    access_ttl: timedelta = ACCESS_TTL,
    refresh_ttl: timedelta = REFRESH_TTL,
    generation: int = 0,
) -> TokenPair:
    """An access token and a refresh token for a user who just proved who they are, bound to the user's current
    session generation: bumping it ends both (see sentinel.auth.user_state)."""
    _check_secret(secret)
    now = _now(now)
    role = Role(role)
    common = {"user_id": user_id, "org_id": org_id, "role": role, "generation": generation, "now": now,
              "secret": secret}  # fmt: skip
    access, access_exp, _ = _encode(type_="access", ttl=access_ttl, **common)
    refresh, refresh_exp, refresh_jti = _encode(type_="refresh", ttl=refresh_ttl, **common)
    return TokenPair(access, refresh, access_exp, refresh_exp, refresh_jti)


def _decode(token: str, secret: str, expected: TokenType, now: datetime | None) -> TokenClaims:
    _check_secret(secret)
    now = _now(now)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={
                "require": ["iss", "sub", "org", "role", "type", "iat", "exp", "jti"],
                "verify_exp": False,  # checked below against the injected clock
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise AuthError("invalid token signature") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"malformed token: {exc}") from exc
    if claims["type"] != expected:
        raise AuthError(f"wrong token type: expected {expected}, got {claims['type']!r}")
    try:
        issued_at = datetime.fromtimestamp(claims["iat"], UTC)
        expires_at = datetime.fromtimestamp(claims["exp"], UTC)
        parsed = TokenClaims(
            user_id=int(claims["sub"]),
            org_id=int(claims["org"]),
            role=Role(claims["role"]),
            type=expected,
            jti=str(claims["jti"]),
            issued_at=issued_at,
            expires_at=expires_at,
            # Tokens issued before generations existed carry none: they belong to generation 0.
            generation=int(claims.get("gen", 0)),
        )
    except (TypeError, ValueError, OverflowError) as exc:
        raise AuthError(f"malformed token claims: {exc}") from exc
    if now >= expires_at + LEEWAY:
        raise AuthError("token expired")
    if issued_at > now + LEEWAY:
        raise AuthError("token issued in the future")
    return parsed


def decode_access(token: str, secret: str, now: datetime | None = None) -> TokenClaims:
    """The claims of a valid access token; `AuthError` for a forged, tampered, expired or refresh token."""
    return _decode(token, secret, "access", now)


def decode_refresh(token: str, secret: str, now: datetime | None = None) -> TokenClaims:
    """The claims of a valid refresh token; `AuthError` otherwise (an access token is refused here)."""
    return _decode(token, secret, "refresh", now)
