import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from sentinel.auth.errors import AuthError
from sentinel.auth.principal import Role
from sentinel.auth.tokens import ACCESS_TTL, REFRESH_TTL, decode_access, decode_refresh, issue_tokens

SECRET = "test-secret-0123456789abcdef0123456789"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _pair(**overrides: object):
    args = {"user_id": 7, "org_id": 3, "role": "manager", "secret": SECRET, "now": NOW} | overrides
    return issue_tokens(**args)


def _reason(exc: pytest.ExceptionInfo[AuthError]) -> str:
    return exc.value.reason


def test_access_token_round_trips_to_a_principal() -> None:
    pair = _pair()
    claims = decode_access(pair.access_token, SECRET, now=NOW + timedelta(minutes=1))
    assert (claims.user_id, claims.org_id, claims.role, claims.type) == (7, 3, Role.MANAGER, "access")
    assert claims.expires_at == NOW + ACCESS_TTL == pair.access_expires_at
    principal = claims.principal()
    assert (principal.user_id, principal.org_id, principal.role, principal.via) == (7, 3, Role.MANAGER, "jwt")


def test_refresh_token_lives_longer_and_has_its_own_jti() -> None:
    pair = _pair()
    claims = decode_refresh(pair.refresh_token, SECRET, now=NOW + ACCESS_TTL + timedelta(hours=1))
    assert claims.type == "refresh"
    assert claims.expires_at == NOW + REFRESH_TTL
    assert claims.jti == pair.refresh_jti
    assert decode_access(pair.access_token, SECRET, now=NOW).jti != claims.jti


def test_token_signed_with_another_secret_is_refused() -> None:
    forged = _pair(secret="attacker-secret-0123456789abcdef0123").access_token
    with pytest.raises(AuthError) as exc:
        decode_access(forged, SECRET, now=NOW)
    assert _reason(exc) == "invalid token signature"


def test_expired_access_token_is_refused() -> None:
    token = _pair().access_token
    decode_access(token, SECRET, now=NOW + ACCESS_TTL - timedelta(seconds=1))
    with pytest.raises(AuthError) as exc:
        decode_access(token, SECRET, now=NOW + ACCESS_TTL + timedelta(minutes=1))
    assert _reason(exc) == "token expired"


def test_refresh_token_is_not_an_access_token_and_vice_versa() -> None:
    pair = _pair()
    with pytest.raises(AuthError) as exc:
        decode_access(pair.refresh_token, SECRET, now=NOW)
    assert "wrong token type" in _reason(exc)
    with pytest.raises(AuthError, match="wrong token type"):
        decode_refresh(pair.access_token, SECRET, now=NOW)


def test_tampered_payload_breaks_the_signature() -> None:
    header, payload, signature = _pair(role="viewer").access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    claims["org"] = 1
    evil = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(AuthError) as exc:
        decode_access(f"{header}.{evil}.{signature}", SECRET, now=NOW)
    assert _reason(exc) == "invalid token signature"


def test_unsigned_alg_none_token_is_refused() -> None:
    claims = jwt.decode(_pair().access_token, options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(AuthError, match="malformed token"):
        decode_access(unsigned, SECRET, now=NOW)


def test_token_missing_a_claim_is_refused() -> None:
    token = jwt.encode({"sub": "7", "type": "access", "exp": 2_000_000_000}, SECRET, algorithm="HS256")
    with pytest.raises(AuthError, match="malformed token"):
        decode_access(token, SECRET, now=NOW)


@pytest.mark.parametrize("garbage", ["", "not-a-jwt", "a.b.c"])
def test_garbage_is_an_auth_error_not_a_crash(garbage: str) -> None:
    with pytest.raises(AuthError):
        decode_access(garbage, SECRET, now=NOW)


def test_token_from_the_future_is_refused() -> None:
    token = _pair(now=NOW + timedelta(hours=1)).access_token
    with pytest.raises(AuthError, match="future"):
        decode_access(token, SECRET, now=NOW)


def test_short_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        _pair(secret="short")


def test_naive_clock_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _pair(now=datetime(2025, 3, 1, 12, 0))


def test_default_clock_is_the_wall_clock() -> None:
    pair = issue_tokens(user_id=1, org_id=1, role=Role.ADMIN, secret=SECRET)
    assert decode_access(pair.access_token, SECRET).user_id == 1
