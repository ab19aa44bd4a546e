"""A bad file is reported with its name and line and skipped, the other files and datasets are served; a
truncated file is never half-loaded and never cached; case-colliding keys are served; a renamed column is
Socrata's 400 no-such-column."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
import requests
import zstandard

from citysim.replay.server import serve_in_background
from citysim.replay.store import CACHE_NAME, open_store

HPD = "wvxf-dwi5"
DOB = "3h2n-5cm9"


def real_rows(realdata: Path, n: int) -> list[dict]:
    return orjson.loads((realdata / "hpd_violations/tablynn/housing_code_violations.json").read_bytes())[:n]


def write_lines(path: Path, rows: list[dict], *, close: bool = True) -> None:
    body = "[\n" + ",\n".join(orjson.dumps(r).decode() for r in rows) + ("\n]\n" if close else ",\n")
    path.write_text(body)


def get(server, dataset: str, **params) -> requests.Response:
    return requests.get(f"{server.url}/resource/{dataset}.json", params=params, timeout=10)


def test_a_truncated_file_is_skipped_by_name_and_line_and_the_others_are_served(realdata, tmp_path):
    rows = real_rows(realdata, 30)
    write_lines(tmp_path / f"{HPD}.json", rows[:20], close=False)  # cut at a row boundary
    shutil.copy(realdata / "dob_violations/nycdb/dob_violations.csv", tmp_path / f"{DOB}.csv")
    store = open_store(tmp_path, cache=True)
    try:
        assert len(store.load_errors) == 1
        assert f"{HPD}.json:21: truncated: the JSON array is not closed" in store.load_errors[0]
        assert HPD not in store.tables and DOB in store.tables  # missing, not half-loaded
    finally:
        store.close()
    assert not list(tmp_path.glob(f"{CACHE_NAME}*")) and not list(tmp_path.glob("*.building-*"))


def test_compressed_files_are_served_and_one_not_zstd_is_skipped_by_name(realdata, tmp_path):
    rows = real_rows(realdata, 25)
    (tmp_path / "plain").mkdir()
    write_lines(tmp_path / "plain" / f"{HPD}.json", rows)
    with (tmp_path / f"{HPD}.json.zst").open("wb") as fh:
        fh.write(zstandard.ZstdCompressor().compress((tmp_path / "plain" / f"{HPD}.json").read_bytes()))
    (tmp_path / f"{DOB}.json.zst").write_bytes(b"[\n" + orjson.dumps(rows[0]) + b"\n]\n")  # named .zst, not zstd
    store = open_store(tmp_path, cache=False)
    try:
        assert store.load_errors == [
            f"{DOB}: skipped {tmp_path / DOB}.json.zst: not readable as zstd-compressed data: "
            "zstd decompress error: Unknown frame descriptor"
        ]
        assert DOB not in store.tables
        served = (
            store.connection().execute(f"SELECT __id, __doc FROM {store.tables[HPD].name} ORDER BY __rid").fetchall()
        )
        assert [orjson.loads(doc) for _, doc in served] == [{k: v for k, v in r.items() if v is not None} for r in rows]
    finally:
        store.close()
    plain = open_store(tmp_path / "plain", cache=False)  # the same rows uncompressed: the same :ids
    try:
        ids = plain.connection().execute(f"SELECT __id FROM {plain.tables[HPD].name} ORDER BY __rid").fetchall()
        assert [i for (i,) in ids] == [i for i, _ in served]
    finally:
        plain.close()


def test_a_dataset_keeps_its_good_files_and_an_empty_file_is_named(realdata, tmp_path):
    good, empty = tmp_path / "good.json", tmp_path / "empty.json"
    write_lines(good, real_rows(realdata, 12))
    empty.write_bytes(b"")
    with serve_in_background(sources={HPD: [good, empty]}) as server:
        assert server.store.load_errors == [f"{HPD}: skipped {empty}: empty file, not a JSON array"]
        assert len(get(server, HPD, **{"$limit": 100}).json()) == 12


def test_a_csv_cut_in_its_last_row_is_skipped(realdata, tmp_path):
    text = (realdata / "dob_violations/nycdb/dob_violations.csv").read_text()
    cut = tmp_path / "cut.csv"
    cut.write_text(text[: text.rindex(",", 0, len(text) - 50)])  # mid-row, no line end
    store = open_store(sources={DOB: [cut]}, cache=False)
    try:
        assert "cut.csv:" in store.load_errors[0] and "truncated: the last row has" in store.load_errors[0]
        assert DOB not in store.tables
    finally:
        store.close()


def test_keys_differing_only_in_case_are_served(realdata, tmp_path):
    rows = real_rows(realdata, 5)
    rows[0] = dict(rows[0], BBL="9999999999", Extra="1", extra="2")
    write_lines(tmp_path / "hpd.json", rows)
    with serve_in_background(sources={HPD: [tmp_path / "hpd.json"]}) as server:
        assert server.store.load_errors == []
        body = get(server, HPD, violationid=rows[0]["violationid"]).json()
        assert body[0]["bbl"] == rows[0]["bbl"] and body[0]["BBL"] == "9999999999"
        assert len(get(server, HPD, bbl=rows[0]["bbl"]).json()) >= 1


def test_a_renamed_column_is_a_400_no_such_column(realdata, tmp_path):
    rows = [{("violation_status" if k == "violationstatus" else k): v for k, v in r.items()}
            for r in real_rows(realdata, 10)]  # fmt: skip
    write_lines(tmp_path / "hpd.json", rows)
    with serve_in_background(sources={HPD: [tmp_path / "hpd.json"]}) as server:
        response = get(server, HPD, **{"$where": "violationstatus = 'Open'"})
        assert response.status_code == 400
        assert response.json()["errorCode"] == "query.soql.no-such-column"
        assert len(get(server, HPD, **{"$where": "violation_status = 'Open'"}).json()) >= 1


@pytest.mark.parametrize("kind", ["not json", "object"])
def test_a_file_that_is_not_a_json_array_is_named(tmp_path, kind):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json" if kind == "not json" else '{"a": 1}')
    store = open_store(sources={HPD: [bad]}, cache=False)
    try:
        assert str(bad) in store.load_errors[0]
    finally:
        store.close()
