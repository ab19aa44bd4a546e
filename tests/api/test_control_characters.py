"""NUL and other control characters are refused with a 422 that names the field (issue 16, item 6).

PostgreSQL cannot store NUL in text, so before this every such value reached it and came back a 500 with a
traceback (an export closed mid-body); the unauthenticated login form was one of them.
"""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import P_BUSY, Api


def _refused(response: httpx.Response, *loc: str | int) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "control_character"
    assert ".".join(str(part) for part in loc) in error["message"]
    assert [list(loc)] == [detail["loc"] for detail in error["details"]]


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85"])
def test_the_login_form_refuses_control_characters_before_authenticating(api: Api, char: str) -> None:
    with api.client() as client:
        r = client.post("/v1/auth/token", data={"username": f"admin{char}@alpha.test", "password": "x" * 12})
    _refused(r, "body", "username")


def test_query_parameters_with_nul_are_refused_naming_the_parameter(api: Api) -> None:
    with api.as_("alpha", "viewer") as client:
        _refused(client.get("/v1/properties", params={"q": "BROAD\x00WAY"}), "query", "q")
        _refused(client.get("/v1/violations", params={"source": ["HPD", "D\x00B"]}), "query", "source")
        _refused(client.get("/v1/complaints", params={"category": "HEAT\x00"}), "query", "category")


def test_an_export_with_nul_in_a_filter_is_refused_before_it_starts(api: Api) -> None:
    with api.as_("alpha", "viewer") as client:
        r = client.get("/v1/violations/export.csv", params={"class": "C\x00", "bbl": P_BUSY})
        _refused(r, "query", "class")
        # And the export itself still streams to its end.
        ok = client.get("/v1/violations/export.csv", params={"bbl": P_BUSY})
        assert ok.status_code == 200 and ok.text.count("\n") >= 4


def test_json_body_fields_with_control_characters_are_refused_naming_the_field(api: Api) -> None:
    with api.as_("alpha", "admin") as client:
        _refused(client.post("/v1/portfolios", json={"name": "Main\x00"}), "body", "name")
        r = client.post("/v1/auth/api-keys", json={"name": "etl\x01", "scopes": ["risk:read"]})
        _refused(r, "body", "name")
        r = client.post("/v1/portfolios", json={"name": "ok"})
        assert r.status_code == 201, r.text
        portfolio = r.json()["id"]
        r = client.post(f"/v1/portfolios/{portfolio}/buildings", json={"addresses": ["1 MAIN\x00 ST"]})
        _refused(r, "body", "addresses", 0)
        # Tabs and line breaks in body text are text, not controls.
        assert client.post("/v1/portfolios", json={"name": "North\tSouth\r\n"}).status_code == 201


def test_path_parameters_and_headers_we_read_are_checked(api: Api) -> None:
    with api.as_("alpha", "viewer") as client:
        _refused(client.get("/v1/properties/1000010001%00"), "path", "bbl")
        r = client.get("/v1/properties", headers={"X-Forwarded-For": b"10.0.0.1\x85"})
        _refused(r, "header", "x-forwarded-for")
        # NUL, DEL and line breaks in a header never reach the app: the HTTP parser answers 400 itself.
        assert client.get("/v1/properties", headers={"X-Request-ID": b"a\x7fb"}).status_code == 400
    with api.client() as client:
        _refused(client.get("/v1/properties", headers={"X-API-Key": b"vs_abc\x9bdef"}), "header", "x-api-key")


def test_nothing_is_logged_as_an_unhandled_error(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with api.client() as client:
        client.post("/v1/auth/token", data={"username": "a\x00@alpha.test", "password": "\x00" * 12})
    assert not [r for r in caplog.records if "unhandled error" in r.getMessage()]
