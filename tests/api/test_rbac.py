"""The RBAC matrix: every route x every caller kind, table-driven. Allowed means "not 401/403" (the call may
still be a 404 or 422 for the made-up ids used here); denied means exactly 403."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import P_BUSY, Api

ALL = {"admin", "manager", "viewer"}
WRITERS = {"admin", "manager"}
ADMIN = {"admin"}
RULE = {"name": "r", "condition": {"type": "new_violation"}, "scope": {"type": "buildings", "bbls": [P_BUSY]}}

# (method, path, json body, roles allowed, API-key scope that allows it)
ROUTES: list[tuple[str, str, Any, set[str], str]] = [
    ("GET", "/v1/auth/me", None, ALL, "any"),
    ("GET", f"/v1/properties?q={P_BUSY}", None, ALL, "properties:read"),
    ("GET", f"/v1/properties/{P_BUSY}", None, ALL, "properties:read"),
    ("GET", "/v1/violations", None, ALL, "properties:read"),
    ("GET", "/v1/violations/export.csv", None, ALL, "properties:read"),
    ("GET", "/v1/complaints", None, ALL, "properties:read"),
    ("GET", "/v1/complaints/export.csv", None, ALL, "properties:read"),
    ("GET", f"/v1/properties/{P_BUSY}/risk", None, ALL, "risk:read"),
    ("POST", "/v1/risk/batch", {"bbls": [P_BUSY]}, ALL, "risk:read"),
    ("GET", "/v1/portfolios", None, ALL, "portfolios:read"),
    ("GET", "/v1/portfolios/999999", None, ALL, "portfolios:read"),
    ("GET", "/v1/portfolios/999999/export.csv", None, ALL, "portfolios:read"),
    ("POST", "/v1/portfolios", {"name": "rbac-matrix"}, WRITERS, "portfolios:write"),
    ("POST", "/v1/portfolios/999999/buildings", {"bbls": [P_BUSY]}, WRITERS, "portfolios:write"),
    ("POST", "/v1/portfolios/999999/buildings/remove", {"bbls": [P_BUSY]}, WRITERS, "portfolios:write"),
    ("DELETE", "/v1/portfolios/999999", None, WRITERS, "portfolios:write"),
    ("GET", "/v1/alert-rules", None, ALL, "alerts:read"),
    ("GET", "/v1/alert-rules/999999", None, ALL, "alerts:read"),
    ("POST", "/v1/alert-rules/dry-run", RULE, ALL, "alerts:read"),
    ("POST", "/v1/alert-rules/999999/dry-run", None, ALL, "alerts:read"),
    ("POST", "/v1/alert-rules", RULE, WRITERS, "alerts:write"),
    ("PUT", "/v1/alert-rules/999999", RULE, WRITERS, "alerts:write"),
    ("DELETE", "/v1/alert-rules/999999", None, WRITERS, "alerts:write"),
    ("POST", "/v1/alert-rules/999999/evaluate", None, WRITERS, "alerts:write"),
    ("GET", "/v1/alerts", None, ALL, "alerts:read"),
    ("POST", "/v1/alerts/999999/acknowledge", None, WRITERS, "alerts:write"),
    ("GET", "/v1/auth/api-keys", None, ADMIN, "admin"),
    ("POST", "/v1/auth/api-keys", {"name": "k", "scopes": ["risk:read"]}, ADMIN, "admin"),
    ("DELETE", "/v1/auth/api-keys/999999", None, ADMIN, "admin"),
    ("GET", "/v1/admin/organization", None, ADMIN, "admin"),
    ("PATCH", "/v1/admin/organization", {"timezone": "America/New_York"}, ADMIN, "admin"),
    ("GET", "/v1/admin/users", None, ADMIN, "admin"),
    ("POST", "/v1/admin/users", {"email": "x@y.test", "password": "plum vellum 42", "role": "viewer"}, ADMIN, "admin"),
    ("PATCH", "/v1/admin/users/999999", {"is_active": True}, ADMIN, "admin"),
]
KEY_SCOPES = ["properties:read", "risk:read", "portfolios:read", "alerts:read"]


def _call(client: httpx.Client, method: str, path: str, body: Any) -> httpx.Response:
    return client.request(method, path, json=body) if body is not None else client.request(method, path)


@pytest.fixture(scope="module")
def read_only_key(api: Api) -> str:
    with api.as_("beta", "admin") as admin:
        r = admin.post("/v1/auth/api-keys", json={"name": "rbac-readonly", "scopes": KEY_SCOPES})
    assert r.status_code == 201
    return r.json()["key"]


@pytest.mark.parametrize("role", sorted(ALL))
@pytest.mark.parametrize(
    ("method", "path", "body", "allowed", "scope"), ROUTES, ids=[f"{m} {p}" for m, p, *_ in ROUTES]
)
def test_role_matrix(api: Api, role: str, method: str, path: str, body: Any, allowed: set[str], scope: str) -> None:
    with api.as_("beta", role) as client:
        r = _call(client, method, path, body)
    if role in allowed:
        assert r.status_code not in (401, 403), r.text
        assert r.status_code < 500, r.text
    else:
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed", "scope"), ROUTES, ids=[f"{m} {p}" for m, p, *_ in ROUTES]
)
def test_read_only_api_key_matrix(
    api: Api, read_only_key: str, method: str, path: str, body: Any, allowed: set[str], scope: str
) -> None:
    with api.client(**{"X-API-Key": read_only_key}) as client:
        r = _call(client, method, path, body)
    if scope == "any" or scope in KEY_SCOPES:
        assert r.status_code not in (401, 403), r.text
    else:
        assert r.status_code == 403, r.text


def test_every_route_but_health_and_docs_requires_authentication(api: Api) -> None:
    open_paths = {"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
    open_paths |= {"/v1/auth/token", "/v1/auth/refresh", "/v1/auth/logout"}  # they authenticate by what they are given
    spec = httpx.get(f"{api.url}/openapi.json").json()
    checked = 0
    with api.client() as anonymous:
        for path, methods in spec["paths"].items():
            if path in open_paths:
                continue
            concrete = path.replace("{bbl}", P_BUSY).replace("{", "").replace("}", "")
            concrete = "/".join("1" if part.endswith("_id") else part for part in concrete.split("/"))
            for method in methods:
                r = anonymous.request(method.upper(), concrete)
                assert r.status_code == 401, f"{method} {path}: {r.status_code}"
                checked += 1
    assert checked >= 30
