"""API keys: `vs_<prefix>_<secret>`, shown once, stored as (prefix, SHA-256 hash).

Why a fast hash and not argon2: a password needs a slow hash because people pick guessable ones; an API
key's secret is 32 random bytes (256 bits), so even a leaked table of SHA-256 hashes cannot be brute-forced,
and a slow hash would only add its cost to every API request (and hand attackers a cheap way to burn our
CPU). Hashing the whole key binds the public prefix to the secret. The prefix is public: it finds the row
(api_keys.prefix is UNIQUE) and lets users recognise a key in logs and the UI without revealing it.
"""

import hashlib
import hmac
import re
import secrets
import string
from datetime import datetime

from sentinel.auth.errors import AuthError

KEY_TAG = "vs"
PREFIX_LENGTH = 8
SECRET_BYTES = 32
# No "_" in the prefix alphabet: it separates the parts, while the urlsafe secret may itself contain "_".
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_KEY_RE = re.compile(rf"^{KEY_TAG}_([a-z0-9]{{{PREFIX_LENGTH}}})_([A-Za-z0-9_-]{{43}})$")


def hash_api_key(full_key: str) -> str:
    return hashlib.sha256(full_key.encode()).hexdigest()


def generate_api_key() -> tuple[str, str, str]:
    """(full_key, prefix, key_hash). Show `full_key` to the user once; store only `prefix` and `key_hash`."""
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    secret = secrets.token_urlsafe(SECRET_BYTES)  # 43 characters, no padding
    full_key = f"{KEY_TAG}_{prefix}_{secret}"
    return full_key, prefix, hash_api_key(full_key)


def parse_api_key(key: str) -> str:
    """The prefix of a well-formed key (to look its row up); `AuthError` if the key is malformed."""
    match = _KEY_RE.match(key)
    if match is None:
        raise AuthError("malformed api key")
    return match.group(1)


def verify_api_key(key: str, stored_hash: str) -> bool:
    """True when `key` hashes to `stored_hash`, compared in constant time so timing leaks no hash bytes."""
    return hmac.compare_digest(hash_api_key(key), stored_hash)


def check_key_usable(*, expires_at: datetime | None, revoked_at: datetime | None, now: datetime) -> None:
    """Raise `AuthError` for a revoked or expired key (the api_keys row's own columns)."""
    if revoked_at is not None and revoked_at <= now:
        raise AuthError("api key revoked")
    if expires_at is not None and expires_at <= now:
        raise AuthError("api key expired")
