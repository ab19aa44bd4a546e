"""/v1/admin/webhook-secret over real HTTP: admins only, shown once, sealed at rest, audited without the secret."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable

import httpx
import psycopg

from sentinel.channels import org_secrets
from sentinel.crypto import parse_key
from tests.api import seed
from tests.api.conftest import Api, make_deps

KEY = parse_key(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())


def _own_org(api: Api, name: str) -> int:
    """An organization of the test's own: other tests change the shared ones' users (roles, passwords)."""
    with psycopg.connect(api.database_url) as conn:
        org_id, api.emails[name] = seed.add_org(conn, name)
    return org_id


def _app(api: Api, app_with: Callable[..., str]) -> str:
    deps = make_deps(api.database_url, None)
    deps.secrets_key = KEY
    return app_with(deps)


def test_an_admin_rotates_the_secret_and_sees_it_once(api: Api, app_with: Callable[..., str]) -> None:
    url = _app(api, app_with)
    org_id = _own_org(api, "secrets-rotation")
    with httpx.Client(base_url=url, headers=api.login("secrets-rotation", "admin"), timeout=30) as a:
        created = a.post("/v1/admin/webhook-secret/rotate")
        state = a.get("/v1/admin/webhook-secret")
        rotated = a.post("/v1/admin/webhook-secret/rotate", json={"grace_hours": 2})
    assert created.status_code == 201, created.text
    first = created.json()["secret"]
    assert first.startswith("whsec_") and len(first) > 40
    assert created.json()["previous_valid_until"] is None
    assert state.status_code == 200
    assert state.json()["configured"] is True
    assert first not in state.text and "secret" not in state.json()
    second = rotated.json()["secret"]
    assert second != first and rotated.json()["previous_valid_until"] is not None

    with psycopg.connect(api.database_url) as conn:
        assert org_secrets.signing_secrets(conn, org_id, KEY) == [second, first]
        stored = conn.execute(
            "SELECT secret_sealed, previous_sealed FROM org_webhook_secrets WHERE org_id = %s", (org_id,)
        ).fetchone()
        audit = conn.execute(
            "SELECT details::text FROM audit_log WHERE org_id = %s AND action = 'webhook_secret.rotate'", (org_id,)
        ).fetchall()
    assert all(first.encode() not in bytes(col) and second.encode() not in bytes(col) for col in stored)
    assert len(audit) == 2 and not any(first in row[0] or second in row[0] for row in audit)


def test_only_admins_may_read_or_rotate_the_secret(api: Api, app_with: Callable[..., str]) -> None:
    url = _app(api, app_with)
    _own_org(api, "secrets-roles")
    for role in ("manager", "viewer"):
        with httpx.Client(base_url=url, headers=api.login("secrets-roles", role), timeout=30) as c:
            assert c.post("/v1/admin/webhook-secret/rotate").status_code == 403
            assert c.get("/v1/admin/webhook-secret").status_code == 403


def test_without_a_secrets_key_rotation_is_refused_with_a_reason(api: Api) -> None:
    _own_org(api, "secrets-nokey")
    with api.as_("secrets-nokey", "admin") as a:
        r = a.post("/v1/admin/webhook-secret/rotate")
        state = a.get("/v1/admin/webhook-secret")
    assert r.status_code == 409
    assert "VS_SECRETS_KEY" in r.json()["error"]["message"]
    assert state.json() == {"configured": False, "rotated_at": None, "previous_valid_until": None}


def test_a_grace_period_is_bounded(api: Api, app_with: Callable[..., str]) -> None:
    _own_org(api, "secrets-grace")
    with httpx.Client(base_url=_app(api, app_with), headers=api.login("secrets-grace", "admin"), timeout=30) as a:
        r = a.post("/v1/admin/webhook-secret/rotate", json={"grace_hours": 10_000})
    assert r.status_code == 422
