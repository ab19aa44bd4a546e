"""Address lookup with the city's forms, street and borough browsing, BINs from violations, per-field quality on
the property page, strict query parameters and per-BBL batch answers. Real API over real PostgreSQL; the lots
are real PLUTO rows (shared/realdata) written by the ingestion's own normalizer and writer."""

from __future__ import annotations

import psycopg
import pytest

from citysim.replay.formats import read_dataset_file
from sentinel.ingest.copy_batch import encode_batch
from sentinel.ingest.locate import backfill_address_keys
from sentinel.ingest.writer import write_batch
from sentinel.normalize import normalize_page
from tests.api import seed
from tests.api.conftest import P_BUSY

pytestmark = pytest.mark.integration

CLARENCE_3 = "2054809003"  # a lot written like the real 761 CLARENCE AVENUE row, at number 3
VIOLATION_ONLY_BIN = "2999991"


@pytest.fixture(scope="module")
def lots(api, realdata):
    rows = list(read_dataset_file(realdata / "pluto/nycdb/pluto_latest.csv", "64uk-42ks"))
    clarence = next(r for r in rows if r["address"] == "761 CLARENCE AVENUE")
    rows.append(dict(clarence, bbl=CLARENCE_3, lot="9003", address="3 CLARENCE AVENUE"))
    with psycopg.connect(api.database_url) as conn:
        batch = normalize_page("pluto", rows)
        added = [row.bbl for row in batch.rows["properties"]] + ["2054809004"]
        write_batch(conn, encode_batch(batch))
        # A lot stored before address keys existed gets one from the backfill.
        seed.add_property(conn, "2054809004", "5  CLARENCE  AVE")
        conn.execute("UPDATE properties SET address_key = NULL WHERE bbl = '2054809004'")
        assert backfill_address_keys(conn) >= 1
        vid = seed.add_violation(conn, CLARENCE_3, source="DOB", klass="E")
        conn.execute(
            "UPDATE violations SET bin = %s, quality = %s::jsonb WHERE id = %s",
            (VIOLATION_ONLY_BIN, '[{"field": "issue_date", "raw": "2023-02-30", "reason": "impossible date"}]', vid),
        )
        conn.commit()
    yield rows
    # The API's database is shared by the session: leave it as it was for the tests that count what is in it.
    with psycopg.connect(api.database_url) as conn:
        conn.execute("DELETE FROM violations WHERE id = %s", (vid,))
        conn.execute("DELETE FROM portfolios WHERE name = 'clarence'")
        conn.execute("DELETE FROM properties WHERE bbl = ANY(%s::bpchar[])", (added,))


def bbls(response):
    assert response.status_code == 200, response.text
    return [r["bbl"] for r in response.json()["results"]]


def test_3_clarence_ave_finds_the_building_stored_as_avenue(api, lots):
    with api.as_("alpha", "viewer") as c:
        assert bbls(c.get("/v1/properties", params={"q": "3 CLARENCE AVE"})) == [CLARENCE_3]
        assert bbls(c.get("/v1/properties", params={"address": "3 Clarence Ave, Bronx"})) == [CLARENCE_3]
        assert bbls(c.get("/v1/properties", params={"address": "5 clarence avenue"})) == ["2054809004"]
        assert bbls(c.get("/v1/properties", params={"address": "3 Clarence Ave", "borough": 3})) == []


def test_a_street_alone_lists_its_lots_and_a_borough_can_be_browsed(api, lots):
    real = sorted(r["bbl"].split(".")[0] for r in lots if "CLARENCE AVENUE" in r["address"])
    with api.as_("alpha", "viewer") as c:
        on_street = bbls(c.get("/v1/properties", params={"address": "Clarence Ave", "limit": 100}))
        assert set(real) <= set(on_street) and "2054809004" in on_street
        bronx = bbls(c.get("/v1/properties", params={"borough": 2, "limit": 100}))
        assert set(on_street) <= set(bronx) and all(b.startswith("2") for b in bronx)


def test_a_bin_only_violations_carry_finds_its_lot(api, lots):
    with api.as_("alpha", "viewer") as c:
        assert bbls(c.get("/v1/properties", params={"bin": VIOLATION_ONLY_BIN})) == [CLARENCE_3]
        page = c.get(f"/v1/properties/{CLARENCE_3}").json()
    assert page["data_quality"] == [
        {"kind": "violation", "source": "DOB", "source_id": page["data_quality"][0]["source_id"],
         "quality": [{"field": "issue_date", "raw": "2023-02-30", "reason": "impossible date"}]}
    ]  # fmt: skip


def test_portfolio_bulk_add_uses_the_same_address_normalizer(api, lots):
    with api.as_("alpha", "manager") as c:
        pid = c.post("/v1/portfolios", json={"name": "clarence"}).json()["id"]
        r = c.post(
            f"/v1/portfolios/{pid}/buildings",
            json={"addresses": ["3 Clarence Ave, Bronx", "761 CLARENCE AVE", "1 Nowhere St"],
                  "bins": [VIOLATION_ONLY_BIN]},
        )  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(body["added"]) == sorted([CLARENCE_3, "2054800111"])
    assert body["unresolved"] == ["1 Nowhere St"]


def test_unknown_or_invalid_query_parameters_are_refused_by_name(api, lots):
    with api.as_("alpha", "viewer") as c:
        r = c.get("/v1/violations", params={"issued_from": "2024-01-01"})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "unknown_parameter" and "issued_from" in r.json()["error"]["message"]
        r = c.get("/v1/violations", params={"source": "XYZ"})
        assert r.status_code == 422 and "source" in r.text
        assert c.get("/v1/violations", params={"source": "hpd"}).status_code == 200
        r = c.get("/v1/properties", params={"q": "3 CLARENCE AVE", "boro": "2"})
        assert r.status_code == 400 and "boro" in r.json()["error"]["message"]
        assert c.get("/v1/properties", params={"borough": 7}).status_code == 422
        assert c.get("/v1/portfolios", params={"page": 2}).status_code == 400
        assert c.get(f"/v1/properties/{P_BUSY}/risk", params={"as_of": "2024-01-01"}).status_code == 400
        r = c.get("/v1/alerts", params={"unacked": "true"})  # the filter is `acknowledged`
        assert r.status_code == 400 and "unacked" in r.json()["error"]["message"]
        assert c.get("/v1/alerts", params={"acknowledged": "false"}).status_code == 200
        assert c.get("/v1/alert-rules", params={"enabled": "true"}).status_code == 400
    with api.as_("alpha", "admin") as c:
        assert c.get("/v1/admin/users", params={"role": "viewer"}).status_code == 400
        assert c.get("/v1/auth/api-keys", params={"all": "1"}).status_code == 400


def test_risk_batch_answers_each_bbl(api, lots):
    with api.as_("alpha", "viewer") as c:
        r = c.post("/v1/risk/batch", json={"bbls": [P_BUSY, "5999999999", "12345", P_BUSY]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(i["bbl"], i["status"]) for i in body["results"]] == [
        (P_BUSY, "found"), ("5999999999", "not_found"), ("12345", "invalid")
    ]  # fmt: skip
    assert body["invalid"] == ["12345"] and body["not_found"] == ["5999999999"]
    assert [s["bbl"] for s in body["scores"]] == [P_BUSY]
