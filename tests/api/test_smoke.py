"""Every route family answers through real HTTP: the shape of each response, the common headers."""

from __future__ import annotations

from tests.api.conftest import BIN_BUSY, P_BUSY, Api


def test_health_needs_no_auth_and_readiness_checks_every_dependency(api: Api) -> None:
    with api.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks["postgres"]["ok"] and checks["redis"]["ok"] and checks["scorer"]["model_ready"]


def test_every_response_has_a_request_id_and_security_headers(api: Api) -> None:
    with api.client(**{"X-Request-ID": "abc-123"}) as c:
        r = c.get("/v1/properties", params={"q": P_BUSY})
    assert r.status_code == 401
    assert r.headers["x-request-id"] == "abc-123"
    assert r.json()["request_id"] == "abc-123"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"


def test_property_search_by_bbl_bin_and_address(api: Api) -> None:
    with api.as_("alpha", "viewer") as c:
        for q in (P_BUSY, BIN_BUSY, "100 broad"):
            r = c.get("/v1/properties", params={"q": q})
            assert r.status_code == 200, r.text
            assert [p["bbl"] for p in r.json()["results"]] == [P_BUSY], q


def test_property_page_has_violations_deadlines_penalties_complaints(api: Api) -> None:
    with api.as_("alpha", "viewer") as c:
        r = c.get(f"/v1/properties/{P_BUSY}")
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["attributes"]["address"] == "100 BROADWAY"
    assert page["open_violations"]["total"] == 3
    assert len(page["deadlines"]["overdue"]) == 1 and len(page["deadlines"]["upcoming"]) == 1
    totals = page["penalties"]["totals"]
    assert totals["imposed"] == "1000.00" and totals["balance"] == "750.00"
    assert totals["violations_with_unknown_amounts"] == 3 and totals["amounts_complete"] is False
    assert len(page["recent_complaints"]) == 1
