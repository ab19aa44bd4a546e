"""A day of changes: upserts, deletions and full replaces move :updated_at exactly for the changed rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sodapy import Socrata
from typer.testing import CliRunner

from citysim.replay.server import ReplayServer, serve_in_background
from cluster.cli_replay import replay_app
from tests.replay.conftest import ADMIN_TOKEN, sodapy_client

HPD = "wvxf-dwi5"
DOB_COMPLAINTS = "eabe-havv"


def write_synth_layout(path: Path, rows: list[dict[str, str]]) -> None:
    """The synthetic city's layout: `[`, one row per line ending in `,` but the last, `]`."""
    body = ",\n".join(json.dumps(r) for r in rows)
    path.write_text(f"[\n{body}\n]\n")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ReplayServer]:
    write_synth_layout(
        tmp_path / f"{HPD}.json",
        [{"violationid": str(i), "class": "B", "violationstatus": "Open", "bbl": "1000010001"} for i in range(1, 51)],
    )
    write_synth_layout(tmp_path / f"{DOB_COMPLAINTS}.json", [{"complaint_number": str(i)} for i in range(1, 11)])
    with serve_in_background(tmp_path, admin_token=ADMIN_TOKEN) as s:
        yield s


@pytest.fixture
def soda(server: ReplayServer) -> Iterator[Socrata]:
    c = sodapy_client(server)
    yield c
    c.close()


def changed_since(soda: Socrata, dataset_id: str, watermark: str) -> list[dict]:
    return soda.get(
        dataset_id, select=":*,*", where=f":updated_at > '{watermark}'", order=":updated_at,:id", limit=10000
    )


def watermark_of(soda: Socrata, dataset_id: str) -> str:
    return soda.get(dataset_id, select="max(:updated_at) AS m")[0]["m"]


def test_updated_at_query_returns_exactly_the_changed_rows(server: ReplayServer, soda: Socrata) -> None:
    watermark = watermark_of(soda, HPD)
    before = {r["violationid"]: r for r in soda.get(HPD, select=":*,*", limit=100)}
    summary = server.apply_changes(
        {
            "datasets": {
                HPD: {
                    "upsert": [
                        {"violationid": "7", "violationstatus": "Close"},
                        {"violationid": "9", "class": "C", "bbl": None},
                        {"violationid": "900", "class": "A", "violationstatus": "Open"},
                    ],
                    "delete": ["3"],
                }
            }
        }
    )
    assert summary[HPD]["inserted"] == 1 and summary[HPD]["updated"] == 2 and summary[HPD]["deleted"] == 1
    changed = changed_since(soda, HPD, watermark)
    assert sorted(r["violationid"] for r in changed) == ["7", "9", "900"]
    by_id = {r["violationid"]: r for r in changed}
    assert by_id["7"]["violationstatus"] == "Close" and by_id["7"]["class"] == "B"  # merged, not overwritten
    assert "bbl" not in by_id["9"]  # null clears a field
    for vid in ("7", "9"):  # an update keeps the row's identity
        assert by_id[vid][":id"] == before[vid][":id"]
        assert by_id[vid][":created_at"] == before[vid][":created_at"]
        assert by_id[vid][":updated_at"] > before[vid][":updated_at"]
    assert by_id["900"][":created_at"] == by_id["900"][":updated_at"]
    assert soda.get(HPD, violationid="3") == []
    assert len(soda.get(HPD, limit=1000)) == 50


def test_full_replace_changes_every_system_field(server: ReplayServer, soda: Socrata) -> None:
    watermark = watermark_of(soda, DOB_COMPLAINTS)
    old_ids = {r[":id"] for r in soda.get(DOB_COMPLAINTS, select=":id")}
    new_rows = [{"complaint_number": str(i)} for i in range(5, 15)]
    server.apply_changes({"datasets": {DOB_COMPLAINTS: {"replace": new_rows}}})
    rows = soda.get(DOB_COMPLAINTS, select=":*,*")
    assert sorted(int(r["complaint_number"]) for r in rows) == list(range(5, 15))
    assert all(r[":created_at"] > watermark and r[":updated_at"] > watermark for r in rows)
    assert not old_ids & {r[":id"] for r in rows}
    count = soda.get(DOB_COMPLAINTS, select="count(*)", where=f":updated_at > '{watermark}'")
    assert count == [{"count": "10"}]  # how an ingester detects a full replace


def test_every_publish_moves_rows_updated_at_in_the_metadata_a_deletion_and_a_second_publish_too(
    server: ReplayServer, soda: Socrata
) -> None:
    """What an ingester asks before re-reading a full-replace dataset (sentinel/ingest/source_version.py)."""

    def rows_updated_at(dataset_id: str) -> int:
        return soda.get_metadata(dataset_id)["rowsUpdatedAt"]

    snapshot, other = rows_updated_at(DOB_COMPLAINTS), rows_updated_at(HPD)
    server.apply_changes({"datasets": {DOB_COMPLAINTS: {"replace": [{"complaint_number": "1"}]}}})
    replaced = rows_updated_at(DOB_COMPLAINTS)
    server.apply_changes({"datasets": {DOB_COMPLAINTS: {"replace": [{"complaint_number": "1"}]}}})
    again = rows_updated_at(DOB_COMPLAINTS)  # within the same second, most likely: it still moves
    server.apply_changes({"datasets": {DOB_COMPLAINTS: {"delete": ["1"]}}})
    deleted = rows_updated_at(DOB_COMPLAINTS)  # no row is left to carry an :updated_at
    assert snapshot < replaced < again < deleted
    assert rows_updated_at(HPD) == other  # a dataset the day did not touch keeps its value

    server.apply_changes({"at": "2030-01-02T03:04:05.000Z", "datasets": {HPD: {"upsert": [{"violationid": "1"}]}}})
    assert rows_updated_at(HPD) == 1893553445  # the publish time, in epoch seconds


def test_cli_apply_changes_posts_to_the_admin_api(server: ReplayServer, soda: Socrata, tmp_path: Path) -> None:
    watermark = watermark_of(soda, HPD)
    changes = tmp_path / "day1.json"
    changes.write_text(json.dumps({"datasets": {HPD: {"update": [{"violationid": "12", "class": "C"}]}}}))
    result = CliRunner().invoke(
        replay_app,
        ["apply-changes", "--url", server.url, "--changes", str(changes), "--admin-token", ADMIN_TOKEN],
    )
    assert result.exit_code == 0, result.output
    assert "wvxf-dwi5: +0 ~1 -0" in result.output
    assert [r["violationid"] for r in changed_since(soda, HPD, watermark)] == ["12"]


def test_strict_update_of_a_missing_row_changes_nothing(server: ReplayServer, soda: Socrata) -> None:
    watermark = watermark_of(soda, HPD)
    r = requests.post(
        f"{server.url}/admin/changes",
        json={"datasets": {HPD: {"update": [{"violationid": "1", "class": "C"}, {"violationid": "404"}]}}},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert r.status_code == 400 and "404" in r.json()["message"]
    assert changed_since(soda, HPD, watermark) == []  # the whole batch rolled back


def test_admin_api_needs_the_bearer_token(server: ReplayServer) -> None:
    body = {"datasets": {HPD: {"delete": ["1"]}}}
    assert requests.post(f"{server.url}/admin/changes", json=body, timeout=10).status_code == 401
    wrong = requests.post(
        f"{server.url}/admin/changes", json=body, headers={"Authorization": "Bearer nope"}, timeout=10
    )
    assert wrong.status_code == 401
