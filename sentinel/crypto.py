"""Sealing the few secrets the application must read back (webhook signing secrets): AES-256-GCM under a key
from `VS_SECRETS_KEY`, with a context string as associated data so a sealed value moved to another row (another
organization) does not open.

The key is 32 random bytes, urlsafe-base64 encoded:
    python -c "import base64, secrets; print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"
_NONCE_BYTES = 12


class SecretsKeyError(ValueError):
    """VS_SECRETS_KEY is missing or malformed, or a sealed value does not open under it."""


def parse_key(text: str | None) -> bytes:
    if not text:
        raise SecretsKeyError("VS_SECRETS_KEY is not set")
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SecretsKeyError("VS_SECRETS_KEY is not urlsafe base64") from exc
    if len(key) != 32:
        raise SecretsKeyError(f"VS_SECRETS_KEY must decode to 32 bytes, not {len(key)}")
    return key


def secrets_key_from_settings() -> bytes | None:
    from sentinel.settings import get_settings

    key = get_settings().secrets_key
    return parse_key(key.get_secret_value()) if key is not None else None


def seal(key: bytes, plaintext: str, context: str) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())


def unseal(key: bytes, sealed: bytes, context: str) -> str:
    if not sealed or sealed[:1] != _VERSION:
        raise SecretsKeyError("unknown sealed-value format")
    nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, context.encode()).decode()
    except InvalidTag as exc:
        raise SecretsKeyError("the sealed value does not open with VS_SECRETS_KEY (wrong key or moved row)") from exc
