"""SoQL over real HTTP with sodapy, the client the ingester uses, against the real NYC samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from sodapy import Socrata

from citysim.replay.server import ReplayServer, serve_in_background
from tests.replay.conftest import sodapy_client

HPD = "wvxf-dwi5"


def test_default_page_is_1000_rows_of_strings_without_system_fields(client: Socrata) -> None:
    rows = client.get(HPD)
    assert len(rows) == 1000
    assert rows[0]["violationid"] == "10000197"
    assert all(isinstance(v, str) for r in rows for v in r.values())
    assert not any(k.startswith(":") for r in rows for k in r)
    assert all("apartment" in r for r in rows) is False  # null fields are omitted, not sent as null


def test_system_fields_only_when_selected(client: Socrata) -> None:
    star = client.get(HPD, select=":*,*", limit=3, order=":id")
    assert set(star[0]) >= {":id", ":created_at", ":updated_at", "violationid"}
    assert star[0][":updated_at"].endswith("Z")
    named = client.get(HPD, select=":id,:updated_at,*", limit=3, order=":id")
    assert [r[":id"] for r in named] == [r[":id"] for r in star]
    assert ":created_at" not in named[0]
    only = client.get(HPD, select=":id, violationid AS vid", limit=2, order=":id DESC")
    assert set(only[0]) == {":id", "vid"}
    assert only[0][":id"] > only[1][":id"]


def test_where_typed_comparisons_boolean_logic_and_functions(client: Socrata) -> None:
    everything = client.get(HPD, limit=5000)
    expected = sorted(
        r["violationid"]
        for r in everything
        if r.get("inspectiondate", "") >= "2020-01-01"
        and r["class"] in ("B", "C")
        and r.get("boro", "").startswith("BRO")
        and "apartment" not in r
    )
    got = client.get(
        HPD,
        select="violationid",
        where="inspectiondate >= '2020-01-01' AND class IN ('B', 'C') AND (upper(boro) LIKE 'BRO%') "
        "AND apartment IS NULL",
        limit=5000,
    )
    assert sorted(r["violationid"] for r in got) == expected
    assert expected  # the filter selects something, so the comparison means something


def test_number_columns_compare_as_numbers_not_strings(client: Socrata) -> None:
    ids = [r["violationid"] for r in client.get(HPD, select="violationid", limit=5000)]
    rows = client.get(HPD, select="violationid", where="violationid < 5000000", limit=5000)
    expected = sorted(i for i in ids if int(i) < 5_000_000)
    assert sorted(r["violationid"] for r in rows) == expected
    # The check only means something if string order would have given another answer.
    assert expected != sorted(i for i in ids if i < "5000000")
    between = client.get(HPD, select="block", where="block BETWEEN 2800 AND 2810", limit=5000)
    assert between and all(2800 <= int(r["block"]) <= 2810 for r in between)


def test_not_in_not_and_starts_with(client: Socrata) -> None:
    rows = client.get(HPD, select="class", where="class NOT IN ('A', 'B') AND NOT class = 'I'", limit=5000)
    assert rows and {r["class"] for r in rows} == {"C"}
    sw = client.get(HPD, select="streetname", where="starts_with(streetname, 'EAST')", limit=5000)
    assert sw and all(r["streetname"].startswith("EAST") for r in sw)
    quoted = client.get("eabe-havv", where="house_street = 'O''BRIEN PLACE'", limit=5)
    assert quoted == []  # the '' escape parses; no such street in the sample


def test_simple_filters_are_anded_with_where(client: Socrata) -> None:
    rows = client.get(HPD, violationstatus="Open", boroid="2", where="class = 'C'", limit=5000)
    assert rows and all((r["violationstatus"], r["boroid"], r["class"]) == ("Open", "2", "C") for r in rows)


def test_order_by_several_keys_with_directions(client: Socrata) -> None:
    rows = client.get(HPD, select="class, violationid", order="class DESC, violationid ASC", limit=5000)
    keys = [(r["class"], int(r["violationid"])) for r in rows]
    assert keys == sorted(keys, key=lambda k: (-ord(k[0]), k[1]))


def test_limit_and_offset_page_consistently(client: Socrata) -> None:
    whole = client.get(HPD, select="violationid", order=":id", limit=100)
    pages = client.get(HPD, select="violationid", order=":id", limit=40) + client.get(
        HPD, select="violationid", order=":id", limit=60, offset=40
    )
    assert pages == whole


def test_count_with_group(client: Socrata) -> None:
    rows = client.get(HPD, select="class, count(*)", group="class", order="class")
    everything = client.get(HPD, limit=5000)
    expected = {}
    for r in everything:
        expected[r["class"]] = expected.get(r["class"], 0) + 1
    assert rows == [{"class": c, "count": str(n)} for c, n in sorted(expected.items())]
    total = client.get(HPD, select="count(*) AS n")
    assert total == [{"n": str(len(everything))}]


def test_full_text_q(client: Socrata) -> None:
    rows = client.get(HPD, q="HANDRAIL", select="novdescription", limit=5000)
    assert rows and all("HANDRAIL" in r["novdescription"].upper() for r in rows)


def test_get_all_ordered_by_id_returns_every_row_once(client: Socrata) -> None:
    rows = list(client.get_all(HPD, order=":id", select=":id,violationid", limit=300))
    assert len(rows) == 1100
    assert len({r[":id"] for r in rows}) == 1100


def test_keyset_paging_on_id_uses_the_index(real_server: ReplayServer) -> None:
    table = real_server.store.tables[HPD].name
    plan = (
        real_server.store.connection()
        .execute(f'EXPLAIN QUERY PLAN SELECT __doc FROM "{table}" WHERE __id > ? ORDER BY __id LIMIT 10', ("row-",))
        .fetchall()
    )
    assert any("USING INDEX" in str(step) and "__id>?" in str(step) for step in plan), plan


def test_one_borough_pages_through_its_own_index(real_server: ReplayServer, client: Socrata) -> None:
    """The ingestion's query shape: one borough, keyset on :id. It must not scan the other boroughs' rows."""
    table = real_server.store.tables[HPD].name
    sql = (
        f'EXPLAIN QUERY PLAN SELECT __doc FROM "{table}" '
        'WHERE (CAST("boroid" AS REAL) = 2) AND __id > ? ORDER BY __id LIMIT 10'
    )
    plan = real_server.store.connection().execute(sql, ("row-",)).fetchall()
    assert any(f"{table}_by_boroid" in str(step) for step in plan), plan
    every = client.get(HPD, select=":id,boroid", order=":id", limit=5000)
    expected = [r[":id"] for r in every if r.get("boroid") == "2"]
    paged, after = [], ""
    while True:
        page = client.get(HPD, select=":id", where=f"boroid = 2 AND :id > '{after}'", order=":id", limit=70)
        paged += [r[":id"] for r in page]
        if len(page) < 70:
            break
        after = page[-1][":id"]
    assert paged == expected and len(expected) > 70


def test_csv_is_quoted_with_field_name_header(client: Socrata, real_server: ReplayServer) -> None:
    rows = client.get(HPD, content_type="csv", select="violationid, apartment", order="violationid", limit=3)
    assert rows[0] == ["violationid", "apartment"]
    raw = requests.get(
        f"{real_server.url}/resource/{HPD}.csv",
        params={"$select": "violationid,apartment", "$where": "apartment IS NULL", "$limit": 1},
        timeout=10,
    )
    assert raw.headers["Content-Type"] == "text/csv; charset=UTF-8"
    assert raw.text.splitlines()[1].endswith('",')  # null = empty and unquoted


def test_headers_name_fields_and_types(real_server: ReplayServer) -> None:
    r = requests.get(
        f"{real_server.url}/resource/{HPD}.json", params={"$select": "violationid, class", "$limit": 1}, timeout=10
    )
    assert r.headers["Content-Type"] == "application/json;charset=utf-8"
    assert r.json() and r.headers["X-SODA2-Fields"] == '["violationid","class"]'
    assert r.headers["X-SODA2-Types"] == '["number","text"]'


def test_metadata(client: Socrata) -> None:
    meta = client.get_metadata(HPD)
    assert meta["id"] == HPD
    cols = {c["fieldName"]: c for c in meta["columns"]}
    assert cols["inspectiondate"]["dataTypeName"] == "calendar_date"
    assert cols["violationid"]["position"] == 1
    assert isinstance(meta["rowsUpdatedAt"], int) and meta["rowsUpdatedAt"] > 0


def test_unknown_column_is_socratas_no_such_column(real_server: ReplayServer, client: Socrata) -> None:
    r = requests.get(f"{real_server.url}/resource/{HPD}.json", params={"$where": "nosuchcolumn = 'x'"}, timeout=10)
    assert r.status_code == 400
    body = r.json()
    assert body["errorCode"] == "query.soql.no-such-column"
    assert body["data"]["column"] == "nosuchcolumn"
    assert "nosuchcolumn" in body["message"]
    with pytest.raises(requests.exceptions.HTTPError, match="no-such-column"):
        client.get(HPD, select="violationid, nosuchcolumn")
    with pytest.raises(requests.exceptions.HTTPError, match="no-such-column"):
        client.get(HPD, nosuchcolumn="1")


@pytest.mark.parametrize("where", ["class = = 'A'", "class IN ('A'", "(class = 'A'", "class = 'A' AND", "'x"])
def test_malformed_query(real_server: ReplayServer, where: str) -> None:
    r = requests.get(f"{real_server.url}/resource/{HPD}.json", params={"$where": where}, timeout=10)
    assert r.status_code == 400
    assert r.json()["errorCode"] == "query.soql.malformed"


def test_text_column_against_a_number_is_a_type_mismatch(real_server: ReplayServer) -> None:
    r = requests.get(f"{real_server.url}/resource/{HPD}.json", params={"$where": "bbl = 2028100045"}, timeout=10)
    assert r.status_code == 400
    assert r.json()["errorCode"] == "query.soql.type-mismatch"


def test_unknown_dataset_is_dataset_missing(real_server: ReplayServer, client: Socrata) -> None:
    r = requests.get(f"{real_server.url}/resource/abcd-1234.json", timeout=10)
    assert r.status_code == 404
    assert r.json() == {"code": "dataset.missing", "error": True, "message": "Not found", "data": {"id": "abcd-1234"}}
    with pytest.raises(requests.exceptions.HTTPError, match="404"):
        client.get_metadata("abcd-1234")


def test_system_fields_spliced_into_stored_rows_match_the_column_by_column_path(tmp_path: Path) -> None:
    # `:*, *` is served from each row's stored JSON with the system fields spliced in front, not re-serialized;
    # naming the columns builds every row value by value. A row whose fields are all null is stored as `{}`.
    rows = [{"violationid": "1", "class": "C"}, {"violationid": None, "class": None}, {"violationid": "3"}]
    (tmp_path / f"{HPD}.json").write_text(json.dumps(rows))
    with serve_in_background(tmp_path) as server:
        soda = sodapy_client(server)
        spliced = soda.get(HPD, select=":*, *", order=":id")
        named = soda.get(HPD, select=":id, :created_at, :updated_at, violationid, class", order=":id")
        soda.close()
    assert spliced == named
    assert [{k: v for k, v in r.items() if not k.startswith(":")} for r in spliced] == [
        {"violationid": "1", "class": "C"},
        {},
        {"violationid": "3"},
    ]
    assert all(set(r) >= {":id", ":created_at", ":updated_at"} and r[":updated_at"].endswith("Z") for r in spliced)
