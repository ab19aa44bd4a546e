import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

import pytest

from sentinel.auth import api_keys
from sentinel.auth.api_keys import check_key_usable, generate_api_key, parse_api_key, verify_api_key
from sentinel.auth.errors import AuthError

NOW = datetime(2025, 3, 1, tzinfo=UTC)


def test_generated_key_has_the_documented_shape_and_round_trips() -> None:
    full_key, prefix, key_hash = generate_api_key()
    assert re.fullmatch(r"vs_[a-z0-9]{8}_[A-Za-z0-9_-]{43}", full_key)
    assert full_key.startswith(f"vs_{prefix}_")
    assert parse_api_key(full_key) == prefix
    assert key_hash == hashlib.sha256(full_key.encode()).hexdigest()
    assert full_key not in key_hash
    assert verify_api_key(full_key, key_hash)


def test_wrong_key_with_the_right_prefix_is_refused() -> None:
    full_key, prefix, key_hash = generate_api_key()
    other_secret = generate_api_key()[0].split("_", 2)[2]
    assert not verify_api_key(f"vs_{prefix}_{other_secret}", key_hash)
    assert not verify_api_key(full_key[:-1], key_hash)


def test_keys_are_unique() -> None:
    keys = [generate_api_key() for _ in range(500)]
    assert len({k[0] for k in keys}) == len({k[1] for k in keys}) == 500


def test_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(api_keys.hmac, "compare_digest", spy)
    full_key, _, key_hash = generate_api_key()
    assert verify_api_key(full_key, key_hash)
    assert calls == [(key_hash, key_hash)]


@pytest.mark.parametrize(
    "key",
    [
        "",
        "vs_",
        "sk_abcdefgh_" + "a" * 43,  # wrong tag
        "vs_ABCDEFGH_" + "a" * 43,  # prefix alphabet is lowercase
        "vs_abcdefg_" + "a" * 43,  # prefix too short
        "vs_abcdefgh_" + "a" * 42,  # secret too short
        "vs_abcdefgh_" + "a" * 42 + "=",  # not urlsafe base64
        "Bearer vs_abcdefgh_" + "a" * 43,
    ],
)
def test_malformed_key_is_an_auth_error(key: str) -> None:
    with pytest.raises(AuthError, match="malformed api key"):
        parse_api_key(key)


def test_secret_may_contain_the_separator() -> None:
    key = "vs_abcdefgh_" + "_" * 43
    assert parse_api_key(key) == "abcdefgh"


def test_revoked_or_expired_key_is_refused_and_live_key_passes() -> None:
    check_key_usable(expires_at=None, revoked_at=None, now=NOW)
    check_key_usable(expires_at=NOW + timedelta(days=1), revoked_at=NOW + timedelta(days=1), now=NOW)
    with pytest.raises(AuthError, match="revoked"):
        check_key_usable(expires_at=None, revoked_at=NOW - timedelta(seconds=1), now=NOW)
    with pytest.raises(AuthError, match="expired"):
        check_key_usable(expires_at=NOW, revoked_at=None, now=NOW)
