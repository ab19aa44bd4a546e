"""Password policy (zxcvbn and its bundled common-password list) at user creation and password reset, and the
signing secret checked before the API starts (issue 16, item 6)."""

from __future__ import annotations

import pytest

from deployments.api.local import local_deps
from tests.api.conftest import Api
from tests.api.seed import PASSWORD


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("password1234", "this is a very common password"),
        ("qwertyuiop12", "too easy to guess"),
        ("aaaaaaaaaaaaaaaa", "too easy to guess"),
        ("short-1", "at least 12 characters"),
    ],
)
def test_a_weak_password_is_refused_with_a_helpful_422_at_creation(api: Api, password: str, reason: str) -> None:
    with api.as_("alpha", "admin") as client:
        r = client.post("/v1/admin/users", json={"email": "weak@alpha.test", "password": password, "role": "viewer"})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] in ("weak_password", "invalid_request")
    if error["code"] == "weak_password":
        assert reason in error["message"]
        assert error["details"]["loc"] == ["body", "password"] and error["details"]["suggestions"]
    with api.as_("alpha", "admin") as client:
        assert "weak@alpha.test" not in {u["email"] for u in client.get("/v1/admin/users").json()}


def test_a_password_reset_is_held_to_the_same_policy(api: Api) -> None:
    with api.as_("alpha", "admin") as client:
        created = client.post(
            "/v1/admin/users", json={"email": "reset@alpha.test", "password": "plum vellum 42 quay", "role": "viewer"}
        )
        assert created.status_code == 201, created.text
        user = created.json()["id"]
        weak = client.patch(f"/v1/admin/users/{user}", json={"password": "password1234"})
        assert weak.status_code == 422 and weak.json()["error"]["code"] == "weak_password", weak.text
        # The account's own e-mail counts as a known word.
        own = client.patch(f"/v1/admin/users/{user}", json={"password": "reset@alpha.test"})
        assert own.status_code == 422, own.text
        assert client.patch(f"/v1/admin/users/{user}", json={"password": "quartz fennel 19 ochre"}).status_code == 200
    with api.client() as client:
        old = client.post("/v1/auth/token", data={"username": "reset@alpha.test", "password": "password1234"})
        assert old.status_code == 401
        ok = client.post("/v1/auth/token", data={"username": "reset@alpha.test", "password": "quartz fennel 19 ochre"})
        assert ok.status_code == 200


def test_the_api_refuses_to_start_with_a_weak_signing_secret(api: Api) -> None:
    for secret in ("short", "x" * 64):
        with pytest.raises(ValueError, match="VS_JWT_SECRET"):
            local_deps(database_url=api.database_url, redis_url=None, jwt_secret=secret)


def test_the_seeded_accounts_password_passes_the_policy() -> None:
    from sentinel.auth.strength import check_password

    check_password(PASSWORD, user_inputs=["admin@alpha.test"])
