"""Removing access removes it: deactivation, demotion, a password reset or a deactivated key creator take effect on
the next request, on every replica (two apps sharing PostgreSQL and Redis stand for two gateway replicas)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from tests.api import seed
from tests.api.conftest import REDIS_PREFIX, Api, make_deps

UNREACHABLE = "redis://127.0.0.1:1/0"


@dataclass
class Org:
    id: int
    emails: dict[str, str]  # role -> email; "admin2" is a second admin
    ids: dict[str, int]


@pytest.fixture
def org(api: Api) -> Org:
    name = f"rev-{secrets.token_hex(4)}"
    with psycopg.connect(api.database_url) as conn:
        org_id, emails = seed.add_org(conn, name)
        emails["admin2"] = f"admin2@{name}.test"
        seed.add_user(conn, org_id, emails["admin2"], "admin")
        conn.commit()
        ids = {
            role: conn.execute("SELECT id FROM users WHERE email = %s", (e,)).fetchone()[0]
            for role, e in emails.items()
        }
    return Org(org_id, emails, ids)


@pytest.fixture
def replicas(api: Api, redis_url: str, app_with: Callable[..., str]) -> tuple[str, str]:
    """Two apps over the same PostgreSQL and Redis (own key prefix: this test's limits are its own)."""
    prefix = f"{REDIS_PREFIX}-rev-{secrets.token_hex(3)}"
    return tuple(app_with(make_deps(api.database_url, redis_url, redis_prefix=prefix)) for _ in range(2))  # type: ignore[return-value]


def _login(url: str, email: str, password: str = seed.PASSWORD) -> dict[str, str]:
    r = httpx.post(f"{url}/v1/auth/token", data={"username": email, "password": password}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def _bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _patch_user(url: str, headers: dict[str, str], user_id: int, body: dict) -> httpx.Response:
    return httpx.patch(f"{url}/v1/admin/users/{user_id}", json=body, headers=headers, timeout=30)


def test_a_deactivated_admin_can_do_nothing_with_its_old_token_on_any_replica(
    org: Org, replicas: tuple[str, str]
) -> None:
    a, b = replicas
    victim = _bearer(_login(a, org.emails["admin"]))
    other = _bearer(_login(a, org.emails["admin2"]))
    assert httpx.get(f"{b}/v1/admin/users", headers=victim, timeout=30).status_code == 200  # cached on B now
    assert _patch_user(a, other, org.ids["admin"], {"is_active": False}).status_code == 200

    with httpx.Client(base_url=b, headers=victim, timeout=30) as c:
        key = c.post("/v1/auth/api-keys", json={"name": "escape", "scopes": ["admin"], "expires_in_days": None})
        assert key.status_code == 401, key.text
        assert c.patch(f"/v1/admin/users/{org.ids['admin']}", json={"is_active": True}).status_code == 401
        assert c.get("/v1/auth/me").status_code == 401
    login = httpx.post(f"{a}/v1/auth/token", data={"username": org.emails["admin"], "password": seed.PASSWORD})
    assert login.status_code == 401


def test_nobody_changes_their_own_role_or_active_flag(org: Org, replicas: tuple[str, str]) -> None:
    url = replicas[0]
    me = _bearer(_login(url, org.emails["admin"]))
    for body in ({"role": "viewer"}, {"role": "admin"}, {"is_active": False}, {"is_active": True}):
        r = _patch_user(url, me, org.ids["admin"], body)
        assert r.status_code == 403, (body, r.text)
        assert "your own role or active flag" in r.json()["error"]["message"]
    # a password is one's own to change, and changing it ends every session, this one included
    assert _patch_user(url, me, org.ids["admin"], {"password": "a new long passphrase"}).status_code == 200
    assert httpx.get(f"{url}/v1/auth/me", headers=me, timeout=30).status_code == 401
    assert _login(url, org.emails["admin"], "a new long passphrase")["access_token"]


def test_a_demoted_admin_cannot_promote_itself_back(org: Org, replicas: tuple[str, str]) -> None:
    a, b = replicas
    old = _bearer(_login(a, org.emails["admin"]))
    other = _bearer(_login(a, org.emails["admin2"]))
    assert _patch_user(a, other, org.ids["admin"], {"role": "viewer"}).status_code == 200

    assert _patch_user(b, old, org.ids["admin"], {"role": "admin"}).status_code == 401  # the old session ended
    fresh = _bearer(_login(b, org.emails["admin"]))
    assert httpx.get(f"{b}/v1/auth/me", headers=fresh, timeout=30).json()["role"] == "viewer"
    assert _patch_user(b, fresh, org.ids["admin"], {"role": "admin"}).status_code == 403
    assert (
        httpx.post(f"{b}/v1/auth/api-keys", json={"name": "k", "scopes": ["admin"]}, headers=fresh).status_code == 403
    )


def test_a_password_reset_ends_every_session_refresh_tokens_included(org: Org, replicas: tuple[str, str]) -> None:
    a, b = replicas
    laptop, phone = _login(a, org.emails["viewer"]), _login(b, org.emails["viewer"])
    admin = _bearer(_login(a, org.emails["admin"]))
    assert _patch_user(a, admin, org.ids["viewer"], {"password": "reset by the admin 1"}).status_code == 200

    for url, session in ((b, laptop), (a, phone)):
        me = httpx.get(f"{url}/v1/auth/me", headers=_bearer(session), timeout=30)
        assert me.status_code == 401 and me.json()["error"]["message"] == "credentials expired"
        again = httpx.post(f"{url}/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}, timeout=30)
        assert again.status_code == 401, again.text
    assert (
        httpx.post(f"{a}/v1/auth/token", data={"username": org.emails["viewer"], "password": seed.PASSWORD}).status_code
        == 401
    )
    assert _login(b, org.emails["viewer"], "reset by the admin 1")


def test_changing_your_own_password_asks_for_the_current_one_and_ends_every_session(
    org: Org, replicas: tuple[str, str]
) -> None:
    a, b = replicas
    laptop, phone = _login(a, org.emails["viewer"]), _login(b, org.emails["viewer"])
    change = {"current_password": "not the password", "new_password": "quince harbour 17 lantern"}
    wrong = httpx.post(f"{a}/v1/auth/password", json=change, headers=_bearer(laptop), timeout=30)
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_password"
    weak = {"current_password": seed.PASSWORD, "new_password": "password1234"}
    r = httpx.post(f"{a}/v1/auth/password", json=weak, headers=_bearer(laptop), timeout=30)
    assert r.status_code == 422 and r.json()["error"]["code"] == "weak_password"
    assert httpx.get(f"{b}/v1/auth/me", headers=_bearer(phone), timeout=30).status_code == 200  # nothing changed yet

    change["current_password"] = seed.PASSWORD
    assert httpx.post(f"{a}/v1/auth/password", json=change, headers=_bearer(laptop), timeout=30).status_code == 204
    for url, session in ((a, laptop), (b, phone)):
        assert httpx.get(f"{url}/v1/auth/me", headers=_bearer(session), timeout=30).status_code == 401
        again = httpx.post(f"{url}/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}, timeout=30)
        assert again.status_code == 401
    old = httpx.post(f"{b}/v1/auth/token", data={"username": org.emails["viewer"], "password": seed.PASSWORD})
    assert old.status_code == 401
    assert _login(b, org.emails["viewer"], change["new_password"])


def test_an_api_key_is_capped_by_its_creators_role_and_dies_with_its_account(
    org: Org, replicas: tuple[str, str]
) -> None:
    a, b = replicas
    creator = _bearer(_login(a, org.emails["admin"]))
    other = _bearer(_login(a, org.emails["admin2"]))
    created = httpx.post(
        f"{a}/v1/auth/api-keys", json={"name": "forever", "scopes": ["admin"], "expires_in_days": None}, headers=creator
    )
    assert created.status_code == 201
    key = {"X-API-Key": created.json()["key"]}
    with httpx.Client(base_url=b, headers=key, timeout=30) as c:
        assert c.get("/v1/admin/users").status_code == 200

        assert _patch_user(a, other, org.ids["admin"], {"role": "manager"}).status_code == 200
        assert c.get("/v1/admin/users").status_code == 403  # an admin key of a manager is a manager's key
        assert c.post("/v1/portfolios", json={"name": f"p-{secrets.token_hex(3)}"}).status_code == 201

        assert _patch_user(a, other, org.ids["admin"], {"role": "viewer"}).status_code == 200
        assert c.post("/v1/portfolios", json={"name": f"p-{secrets.token_hex(3)}"}).status_code == 403
        assert c.get("/v1/portfolios").status_code == 200

        assert _patch_user(a, other, org.ids["admin"], {"is_active": False}).status_code == 200
        assert c.get("/v1/portfolios").status_code == 401
        assert c.get("/v1/admin/users").status_code == 401


def test_a_change_made_behind_the_apis_back_takes_effect_within_the_cache_seconds(
    api: Api, org: Org, redis_url: str, app_with: Callable[..., str]
) -> None:
    """No replica dropped the cached state here (the row changed in SQL): the TTL alone bounds the delay."""
    deps = make_deps(api.database_url, redis_url, redis_prefix=f"{REDIS_PREFIX}-ttl", user_state_cache_seconds=2)
    url = app_with(deps)
    token = _bearer(_login(url, org.emails["manager"]))
    assert httpx.get(f"{url}/v1/auth/me", headers=token, timeout=30).status_code == 200  # now cached
    with psycopg.connect(api.database_url) as conn:
        conn.execute("UPDATE users SET is_active = false WHERE id = %s", (org.ids["manager"],))
    changed = time.monotonic()
    deadline = changed + 2 + 3
    while httpx.get(f"{url}/v1/auth/me", headers=token, timeout=30).status_code == 200:
        assert time.monotonic() < deadline, "a deactivation must take effect within the cache's seconds"
        time.sleep(0.1)


def test_without_redis_revocation_is_immediate(api: Api, org: Org, app_with: Callable[..., str]) -> None:
    url = app_with(make_deps(api.database_url, UNREACHABLE))
    victim = _bearer(_login(url, org.emails["manager"]))
    admin = _bearer(_login(url, org.emails["admin"]))
    assert httpx.get(f"{url}/v1/portfolios", headers=victim, timeout=30).status_code == 200
    assert _patch_user(url, admin, org.ids["manager"], {"is_active": False}).status_code == 200
    assert httpx.get(f"{url}/v1/portfolios", headers=victim, timeout=30).status_code == 401
