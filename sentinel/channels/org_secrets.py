"""Per-organization webhook signing secrets: rotate (create), describe, and read back for signing."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from sentinel.channels.settings import ChannelSettings
from sentinel.crypto import parse_key, seal, unseal

SECRET_PREFIX = "whsec_"  # noqa: S105 -- a label, not a secret
DEFAULT_GRACE = timedelta(hours=24)


def _context(org_id: int) -> str:
    return f"webhook-secret:org:{org_id}"


@dataclass(frozen=True)
class SecretInfo:
    rotated_at: datetime
    previous_valid_until: datetime | None


def rotate(
    conn: psycopg.Connection[Any], org_id: int, key: bytes, *, by_user: int | None, grace: timedelta = DEFAULT_GRACE
) -> tuple[str, SecretInfo]:
    """A new secret for the organization (returned once, in clear); the current one, if any, keeps signing beside
    it for `grace`. Call inside the transaction that records the audit entry."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    sealed = seal(key, secret, _context(org_id))
    row = conn.execute(
        """
        INSERT INTO org_webhook_secrets (org_id, secret_sealed, rotated_by) VALUES (%(org)s, %(sealed)s, %(by)s)
        ON CONFLICT (org_id) DO UPDATE SET
            previous_sealed = CASE WHEN %(grace)s > interval '0' THEN org_webhook_secrets.secret_sealed END,
            previous_until = CASE WHEN %(grace)s > interval '0' THEN now() + %(grace)s END,
            secret_sealed = excluded.secret_sealed, rotated_at = now(), rotated_by = excluded.rotated_by
        RETURNING rotated_at, previous_until
        """,
        {"org": org_id, "sealed": sealed, "by": by_user, "grace": grace},
    ).fetchone()
    assert row is not None
    return secret, SecretInfo(row[0], row[1])


def describe(conn: psycopg.Connection[Any], org_id: int) -> SecretInfo | None:
    row = conn.execute(
        "SELECT rotated_at, CASE WHEN previous_until > now() THEN previous_until END "
        "FROM org_webhook_secrets WHERE org_id = %s",
        (org_id,),
    ).fetchone()
    return SecretInfo(row[0], row[1]) if row else None


def signing_secrets(conn: psycopg.Connection[Any], org_id: int, key: bytes) -> list[str]:
    """The secrets to sign with, newest first: the current one and a previous one still in its grace period."""
    row = conn.execute(
        "SELECT secret_sealed, CASE WHEN previous_until > now() THEN previous_sealed END "
        "FROM org_webhook_secrets WHERE org_id = %s",
        (org_id,),
    ).fetchone()
    if row is None:
        return []
    return [unseal(key, bytes(sealed), _context(org_id)) for sealed in row if sealed is not None]


class OrgSecretSource:
    """`SigningSecrets` for the webhook channel: reads through a short cache, so a send does not cost a query and
    a rotation is signed with within `ttl_s` (the previous secret still signs meanwhile)."""

    def __init__(
        self, database_url: str, key: bytes, ttl_s: float = 30.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._url = database_url
        self._key = key
        self._ttl = ttl_s
        self._monotonic = monotonic
        self._cache: dict[int, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    def for_org(self, org_id: int) -> list[str]:
        now = self._monotonic()
        with self._lock:
            hit = self._cache.get(org_id)
            if hit is not None and hit[0] > now:
                return hit[1]
        with psycopg.connect(self._url, autocommit=True) as conn:
            found = signing_secrets(conn, org_id, self._key)
        with self._lock:
            self._cache[org_id] = (now + self._ttl, found)
        return found


def org_secret_source(database_url: str, settings: ChannelSettings) -> OrgSecretSource | None:
    """The notifier's source of per-organization secrets; None (global secret only) without VS_SECRETS_KEY."""
    key = settings.webhook.secrets_key
    return OrgSecretSource(database_url, parse_key(key.get_secret_value())) if key is not None else None
