"""Per-organization webhook signing secrets through the real notifier (Drainer), PostgreSQL and a local receiver;
and the outbox keeping a fixed reason, not the receiver's body, in `notifications.last_error`."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from pydantic import SecretStr

from actors.alerts import Drainer
from sentinel.alerts.engine import evaluate_run
from sentinel.channels import (
    SIGNATURE_HEADER,
    ChannelSettings,
    SignatureError,
    WebhookSettings,
    org_secrets,
    verify_signature,
)
from sentinel.crypto import SecretsKeyError, parse_key, unseal
from sentinel.outbound import OutboundPolicy
from tests.alerts import seed
from tests.alerts.seed import WATCHED
from tests.channels.receivers import LOCAL_RECEIVERS, HttpReceiver

GLOBAL = "global-fallback-secret"
KEY_TEXT = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
KEY = parse_key(KEY_TEXT)


def _settings(key: str | None = KEY_TEXT, outbound: OutboundPolicy = LOCAL_RECEIVERS) -> ChannelSettings:
    return ChannelSettings(
        enabled=frozenset({"webhook"}),
        webhook=WebhookSettings(signing_secret=SecretStr(GLOBAL), secrets_key=SecretStr(key) if key else None),
        outbound=outbound,
    )


def _org_with_alert(conn: psycopg.Connection, name: str, url: str) -> int:
    org_id = seed.org(conn, name)
    seed.portfolio(conn, org_id, [WATCHED], name=f"{name}-p")
    seed.rule(conn, org_id, {"type": "new_violation"}, [{"kind": "webhook", "target": url}])
    _new_violation(conn, f"{name}-v")
    return org_id


def _new_violation(conn: psycopg.Connection, record: str) -> None:
    now = datetime.now(UTC)
    run_id = seed.run(conn, now - timedelta(minutes=2))
    seed.violation(conn, record, WATCHED, run_id, now - timedelta(minutes=1))
    evaluate_run(conn, run_id, now)


def _header(receiver: HttpReceiver, index: int = -1) -> tuple[str, bytes]:
    request = receiver.requests[index]
    return request.headers[SIGNATURE_HEADER.lower()], request.body


def test_each_organization_signs_with_its_own_secret_and_the_global_one_is_a_fallback(
    conn: psycopg.Connection, db_url: str, receiver: HttpReceiver
) -> None:
    own = _org_with_alert(conn, "own", f"{receiver.url}/own")
    _org_with_alert(conn, "plain", f"{receiver.url}/plain")
    with conn.transaction():
        secret, _ = org_secrets.rotate(conn, own, KEY, by_user=None)

    Drainer(db_url, _settings()).drain_once()

    paths = [r.path for r in receiver.requests]
    assert "/own" in paths and "/plain" in paths
    for request in receiver.requests:
        header, body = request.headers[SIGNATURE_HEADER.lower()], request.body
        mine, other = (secret, GLOBAL) if request.path == "/own" else (GLOBAL, secret)
        verify_signature(mine, header, body)
        with pytest.raises(SignatureError):  # the shared secret can no longer forge this organization's events
            verify_signature(other, header, body)


def test_during_a_rotation_both_secrets_sign_and_without_grace_only_the_new_one(
    conn: psycopg.Connection, db_url: str, receiver: HttpReceiver
) -> None:
    org_id = _org_with_alert(conn, "rot", f"{receiver.url}/a")
    with conn.transaction():
        old, _ = org_secrets.rotate(conn, org_id, KEY, by_user=None)
    with conn.transaction():
        new, info = org_secrets.rotate(conn, org_id, KEY, by_user=None, grace=timedelta(hours=1))
    assert info.previous_valid_until is not None
    Drainer(db_url, _settings()).drain_once()
    header, body = _header(receiver)
    assert header.count("v1=") == 2
    verify_signature(new, header, body)
    verify_signature(old, header, body)

    with conn.transaction():
        newest, info = org_secrets.rotate(conn, org_id, KEY, by_user=None, grace=timedelta(0))
    assert info.previous_valid_until is None
    _new_violation(conn, "rot-v2")
    Drainer(db_url, _settings()).drain_once()
    assert len(receiver.requests) == 2
    header, body = _header(receiver)
    assert header.count("v1=") == 1
    verify_signature(newest, header, body)
    with pytest.raises(SignatureError):
        verify_signature(new, header, body)


def test_the_secret_is_stored_sealed_and_bound_to_its_organization(conn: psycopg.Connection) -> None:
    first, second = seed.org(conn, "one"), seed.org(conn, "two")
    with conn.transaction():
        secret, _ = org_secrets.rotate(conn, first, KEY, by_user=None)
        org_secrets.rotate(conn, second, KEY, by_user=None)
    (sealed,) = conn.execute("SELECT secret_sealed FROM org_webhook_secrets WHERE org_id = %s", (first,)).fetchone()
    assert secret.encode() not in bytes(sealed)
    assert secret[len("whsec_") :].encode() not in bytes(sealed)
    # A sealed secret copied onto another organization's row does not open there, nor under another key.
    conn.execute("UPDATE org_webhook_secrets SET secret_sealed = %s WHERE org_id = %s", (sealed, second))
    with pytest.raises(SecretsKeyError):
        org_secrets.signing_secrets(conn, second, KEY)
    with pytest.raises(SecretsKeyError):
        unseal(secrets.token_bytes(32), bytes(sealed), f"webhook-secret:org:{first}")
    assert org_secrets.signing_secrets(conn, first, KEY) == [secret]


def test_without_the_key_the_notifier_signs_with_the_global_secret(
    conn: psycopg.Connection, db_url: str, receiver: HttpReceiver
) -> None:
    org_id = _org_with_alert(conn, "nokey", f"{receiver.url}/x")
    with conn.transaction():
        org_secrets.rotate(conn, org_id, KEY, by_user=None)
    Drainer(db_url, _settings(key=None)).drain_once()
    verify_signature(GLOBAL, *_header(receiver))


def test_last_error_keeps_the_status_and_a_fixed_reason_never_the_receivers_body(
    conn: psycopg.Connection, db_url: str, receiver: HttpReceiver
) -> None:
    _org_with_alert(conn, "err", f"{receiver.url}/hook")
    receiver.respond(500, b"root:x:0:0:root:/root:/bin/bash -- an internal page")
    Drainer(db_url, _settings()).drain_once()
    (note,) = seed.notifications(conn)
    assert note["status"] == "pending"
    assert note["last_error"] == f"{receiver.url} answered 500 Internal Server Error"


def test_a_rule_stored_with_a_private_target_is_refused_at_delivery(conn: psycopg.Connection, db_url: str) -> None:
    # Saved before validation existed, or written around the API: the notifier checks again and gives up at once.
    _org_with_alert(conn, "old", "https://2130706433:5432/")
    result = Drainer(db_url, _settings(outbound=OutboundPolicy())).drain_once()
    (note,) = seed.notifications(conn)
    assert (result["dead"], note["status"]) == (1, "dead")
    assert note["last_error"] == "refused https://2130706433:5432: the host resolves to a loopback address (127.0.0.1)"
