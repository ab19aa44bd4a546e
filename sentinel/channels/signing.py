"""Webhook signatures: HMAC-SHA256 over `timestamp + "." + body`,
sent as `X-Sentinel-Signature: t=<unix>,v1=<hex>`.

The timestamp is inside the signed bytes, so a receiver that rejects old timestamps also rejects a replay of a
captured request. Same scheme as Stripe's, so receivers already know how to check it.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Sentinel-Signature"
DEFAULT_TOLERANCE_S = 300


class SignatureError(ValueError):
    """The request is not from us, was altered, or is too old to accept."""


def sign(secret: str | bytes, body: bytes, timestamp: int) -> str:
    """Return the header value for `body` sent at unix time `timestamp`."""
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def sign_all(secrets: list[str], body: bytes, timestamp: int) -> str:
    """One header with a v1 per secret: during a rotation receivers holding either secret can verify."""
    return f"t={timestamp}," + ",".join(f"v1={_digest(secret, body, timestamp)}" for secret in secrets)


def verify_signature(
    secret: str | bytes,
    header: str | None,
    body: bytes,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> int:
    """Check a signature header against the raw body; return its timestamp or raise SignatureError.

    `now` is unix seconds (time.time() when omitted). A timestamp further than `tolerance_s` from `now`,
    in either direction, is rejected: far future stamps would otherwise stay replayable for longer.
    """
    if now is None:
        import time

        now = time.time()
    timestamp, candidates = _parse(header)
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError(f"timestamp {timestamp} is outside the {tolerance_s}s tolerance")
    expected = _digest(secret, body, timestamp)
    # Several v1 values are allowed so a secret can be rotated: we sign with old and new for a while.
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("no signature matches the body")
    return timestamp


def _digest(secret: str | bytes, body: bytes, timestamp: int) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def _parse(header: str | None) -> tuple[int, list[str]]:
    if not header:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError as exc:
                raise SignatureError("timestamp is not an integer") from exc
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("malformed signature header")
    return timestamp, candidates
