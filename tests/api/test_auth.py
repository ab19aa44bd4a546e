"""Authentication: login, refresh, expiry, forged tokens, API keys (shown once, hashed, scoped, revocable)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt
import psycopg

from sentinel.auth.api_keys import hash_api_key
from sentinel.auth.tokens import issue_tokens
from tests.api import seed
from tests.api.conftest import JWT_SECRET, P_BUSY, Api, make_deps
from tests.api.seed import PASSWORD


def _audit_actions(api: Api, since_id: int) -> list[str]:
    with psycopg.connect(api.database_url) as conn:
        return [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE id > %s ORDER BY id", (since_id,))]


def _last_audit_id(api: Api) -> int:
    with psycopg.connect(api.database_url) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0]


def test_login_issues_access_and_refresh_tokens_and_audits_it(api: Api) -> None:
    mark = _last_audit_id(api)
    with api.client() as c:
        r = c.post("/v1/auth/token", data={"username": api.emails["alpha"]["manager"], "password": PASSWORD})
        assert r.status_code == 200
        body = r.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 15 * 60
        me = c.get("/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert me["role"] == "manager" and me["org_id"] == api.orgs["alpha"] and me["organization"] == "alpha"
    assert "auth.login" in _audit_actions(api, mark)


def test_wrong_password_and_unknown_user_are_the_same_401_and_are_audited(api: Api) -> None:
    mark = _last_audit_id(api)
    with api.client() as c:
        wrong = c.post("/v1/auth/token", data={"username": api.emails["alpha"]["viewer"], "password": "nope-nope"})
        unknown = c.post("/v1/auth/token", data={"username": "nobody@nowhere.test", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"] == unknown.json()["error"]
    assert _audit_actions(api, mark).count("auth.login_failed") == 2


def test_refresh_gives_new_tokens_and_an_access_token_is_not_a_refresh_token(api: Api) -> None:
    with api.client() as c:
        tokens = c.post("/v1/auth/token", data={"username": api.emails["beta"]["viewer"], "password": PASSWORD}).json()
        refreshed = c.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200
        assert c.get("/v1/auth/me", headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"}).is_success
        assert c.post("/v1/auth/refresh", json={"refresh_token": tokens["access_token"]}).status_code == 401
        # and a refresh token cannot be used as an access token
        me = c.get("/v1/auth/me", headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
        assert me.status_code == 401


def test_expired_forged_and_malformed_tokens_are_refused(api: Api) -> None:
    user_id = 1
    expired = issue_tokens(
        user_id=user_id, org_id=api.orgs["alpha"], role="admin", secret=JWT_SECRET,
        now=datetime.now(UTC) - timedelta(hours=1),
    ).access_token  # fmt: skip
    forged = issue_tokens(user_id=user_id, org_id=api.orgs["alpha"], role="admin", secret="x" * 40).access_token
    none_alg = jwt.encode({"sub": "1", "org": api.orgs["alpha"], "role": "admin", "type": "access"}, None, "none")
    with api.client() as c:
        for token, message in ((expired, "credentials expired"), (forged, "invalid credentials"),
                               (none_alg, "invalid credentials"), ("garbage", "invalid credentials")):  # fmt: skip
            r = c.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401, token
            assert r.json()["error"]["message"] == message
            assert r.headers["www-authenticate"] == "Bearer"
        assert c.get("/v1/auth/me").status_code == 401


def test_api_key_is_shown_once_stored_hashed_scoped_and_revocable(api: Api) -> None:
    mark = _last_audit_id(api)
    with api.as_("alpha", "admin") as admin:
        created = admin.post("/v1/auth/api-keys", json={"name": "reader", "scopes": ["properties:read"]})
        assert created.status_code == 201, created.text
        key = created.json()["key"]
        listed = admin.get("/v1/auth/api-keys").json()
        assert all("key" not in k for k in listed)
    with psycopg.connect(api.database_url) as conn:
        stored = conn.execute("SELECT key_hash FROM api_keys WHERE id = %s", (created.json()["id"],)).fetchone()[0]
    assert stored == hash_api_key(key) and key not in stored
    with api.client(**{"X-API-Key": key}) as c:
        assert c.get(f"/v1/properties/{P_BUSY}").status_code == 200
        assert c.get(f"/v1/properties/{P_BUSY}/risk").status_code == 403  # lacks risk:read
        assert c.get("/v1/portfolios").status_code == 403
    with api.client(Authorization=f"Bearer {key}") as c:
        assert c.get(f"/v1/properties/{P_BUSY}").status_code == 200
    with api.as_("alpha", "admin") as admin:
        assert admin.delete(f"/v1/auth/api-keys/{created.json()['id']}").status_code == 200
    with api.client(**{"X-API-Key": key}) as c:
        assert c.get(f"/v1/properties/{P_BUSY}").status_code == 401
    actions = _audit_actions(api, mark)
    assert {"api_key.create", "api_key.used", "api_key.revoke"} <= set(actions)


def test_expired_api_key_is_refused(api: Api) -> None:
    with api.as_("alpha", "admin") as admin:
        created = admin.post("/v1/auth/api-keys", json={"name": "short", "scopes": ["admin"]}).json()
    with psycopg.connect(api.database_url) as conn:
        conn.execute("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = %s", (created["id"],))
        conn.commit()
    with api.client(**{"X-API-Key": created["key"]}) as c:
        r = c.get("/v1/auth/me")
    assert r.status_code == 401 and r.json()["error"]["message"] == "credentials expired"


def test_a_tampered_api_key_is_refused(api: Api) -> None:
    with api.as_("alpha", "admin") as admin:
        key = admin.post("/v1/auth/api-keys", json={"name": "t", "scopes": ["admin"]}).json()["key"]
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    with api.client(**{"X-API-Key": tampered}) as c:
        assert c.get("/v1/auth/me").status_code == 401


def test_a_refresh_token_works_once_and_a_replay_ends_every_session_of_its_user(api: Api, app_with) -> None:
    # An account of its own: a replay ends every session of the user, access tokens included (the shared
    # accounts' tokens are cached by the session's `api`).
    with psycopg.connect(api.database_url) as conn:
        seed.add_user(conn, api.orgs["beta"], "refresh-replay@beta.test", "manager")
        conn.commit()
    mark = _last_audit_id(api)
    # its own app and in-memory limiter: these logins must not spend the shared per-IP auth budget of the session
    with httpx.Client(base_url=app_with(make_deps(api.database_url, None)), timeout=30) as c:
        login = {"username": "refresh-replay@beta.test", "password": PASSWORD}
        first = c.post("/v1/auth/token", data=login).json()
        other_device = c.post("/v1/auth/token", data=login).json()
        rotated = c.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert rotated.status_code == 200
        replay = c.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert replay.status_code == 401 and replay.json()["error"]["message"] == "credentials expired"
        # the thief's copy and the owner's rotated token and other sessions are all dead now
        for token in (rotated.json()["refresh_token"], other_device["refresh_token"]):
            ended = c.post("/v1/auth/refresh", json={"refresh_token": token})
            assert ended.status_code == 401 and ended.json()["error"]["message"] == "credentials expired"
    assert "auth.refresh_replayed" in _audit_actions(api, mark)


def test_logout_spends_the_refresh_token_and_everywhere_ends_the_other_sessions(api: Api, app_with) -> None:
    clock = [datetime.now(UTC)]
    deps = make_deps(api.database_url, None)
    deps.now = lambda: clock[0]
    # An account of its own: ending every session of a shared one would expire the tokens other tests hold.
    with psycopg.connect(api.database_url) as conn:
        seed.add_user(conn, api.orgs["alpha"], "logout-everywhere@alpha.test", "viewer")
        conn.commit()
    login = {"username": "logout-everywhere@alpha.test", "password": PASSWORD}
    with httpx.Client(base_url=app_with(deps), timeout=30) as c:
        laptop = c.post("/v1/auth/token", data=login).json()
        phone = c.post("/v1/auth/token", data=login).json()
        assert c.post("/v1/auth/logout", json={"refresh_token": laptop["refresh_token"]}).status_code == 204
        assert c.post("/v1/auth/logout", json={"refresh_token": laptop["refresh_token"]}).status_code == 204
        assert c.post("/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]}).status_code == 401
        still = c.post("/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
        assert still.status_code == 200, still.text

        clock[0] += timedelta(seconds=1)
        everywhere = {"refresh_token": still.json()["refresh_token"], "everywhere": True}
        assert c.post("/v1/auth/logout", json=everywhere).status_code == 204
        assert c.post("/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}).status_code == 401
        assert c.post("/v1/auth/logout", json={"refresh_token": "not-a-token"}).status_code == 401

        # a login after the cut (tokens carry whole seconds) starts a working session again
        clock[0] += timedelta(seconds=1)
        fresh = c.post("/v1/auth/token", data=login).json()
        assert c.post("/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]}).status_code == 200
