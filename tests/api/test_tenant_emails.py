"""Adding a user never reveals another organization's accounts (issue 16, item 6).

An e-mail is unique within an organization (migration 0017): an admin adding an address that has an account
elsewhere gets the same 201 as for a new one, and login tells the accounts apart by password or organization.
"""

from __future__ import annotations

import psycopg
import pytest

from tests.api import seed
from tests.api.conftest import Api

OTHER_PASSWORD = "quartz fennel 19 ochre"


@pytest.fixture(scope="module")
def tenants(api: Api) -> dict[str, int]:
    with psycopg.connect(api.database_url) as conn:
        for name in ("emails-one", "emails-two"):
            api.orgs[name], api.emails[name] = seed.add_org(conn, name)
    return {"emails-one": api.orgs["emails-one"], "emails-two": api.orgs["emails-two"]}


def _login(api: Api, email: str, password: str, **extra: object) -> tuple[int, dict]:
    with api.client() as client:
        r = client.post("/v1/auth/token", data={"username": email, "password": password, **extra})
        if r.status_code != 200:
            return r.status_code, r.json()
        me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    return 200, me.json()


def test_an_address_with_an_account_elsewhere_is_answered_like_a_new_one(api: Api, tenants: dict[str, int]) -> None:
    theirs = api.emails["emails-two"]["viewer"]
    with api.as_("emails-one", "admin") as client:
        fresh = client.post(
            "/v1/admin/users", json={"email": "new@emails-one.test", "password": OTHER_PASSWORD, "role": "viewer"}
        )
        elsewhere = client.post("/v1/admin/users", json={"email": theirs, "password": OTHER_PASSWORD, "role": "viewer"})
        own = client.post(
            "/v1/admin/users",
            json={"email": api.emails["emails-one"]["viewer"].upper(), "password": OTHER_PASSWORD, "role": "viewer"},
        )
    assert (fresh.status_code, elsewhere.status_code) == (201, 201), elsewhere.text
    assert fresh.json().keys() == elsewhere.json().keys()
    # A duplicate inside the organization is still a 409, and says so about this organization only.
    assert own.status_code == 409 and "this organization" in own.json()["error"]["message"]
    # Each account signs in to its own organization.
    status, me = _login(api, theirs, seed.PASSWORD)
    assert status == 200 and me["org_id"] == tenants["emails-two"]
    status, me = _login(api, theirs, OTHER_PASSWORD)
    assert status == 200 and me["org_id"] == tenants["emails-one"]
    assert _login(api, theirs, "not the password at all")[0] == 401


def test_one_password_for_two_accounts_asks_for_the_organization(api: Api, tenants: dict[str, int]) -> None:
    shared = api.emails["emails-two"]["manager"]
    with api.as_("emails-one", "admin") as client:
        r = client.post("/v1/admin/users", json={"email": shared, "password": seed.PASSWORD, "role": "manager"})
    assert r.status_code == 201, r.text
    status, error = _login(api, shared, seed.PASSWORD)
    assert status == 400 and error["error"]["code"] == "ambiguous_account"
    for org in ("emails-one", "emails-two"):
        status, me = _login(api, shared, seed.PASSWORD, organization=tenants[org])
        assert status == 200 and me["org_id"] == tenants[org]
