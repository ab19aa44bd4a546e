"""A changes file applied as it is read publishes exactly what the document applied whole does, holding a batch of
rows at a time; a file it cannot apply so is refused with the line and the reason."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import orjson
import pytest

from citysim.replay.change_stream import ChangeBatch, read_change_file
from citysim.replay.changes import apply_changes, apply_changes_file
from citysim.replay.dataset_stores import AnyStore, DatasetStores, build_dataset_file
from citysim.replay.formats import DataFileError, read_json_document
from citysim.replay.query import run_query
from citysim.replay.store import discover_sources, open_store
from citysim.synth import SynthConfig, write_changes, write_city
from citysim.synth.dates import day_number
from citysim.synth.nyc import NYC_DAILY

TINY = SynthConfig(buildings=60, start=date(2020, 1, 1), end=date(2020, 12, 31), seed=3, batch_size=25)
DAYS = [date(2020, 12, 1), date(2020, 12, 2)]
HPD, DOB_COMPLAINTS = "wvxf-dwi5", "eabe-havv"


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("stream") / "city"
    write_city(TINY, out, truth=False, as_of=day_number(DAYS[0]) - 1)
    return out, write_changes(TINY, DAYS, out.parent / "changes", NYC_DAILY, compress=True)


def served(store: AnyStore, dataset_id: str) -> bytes:
    result = run_query(store, dataset_id, [("$select", ":*,*"), ("$order", ":id"), ("$limit", "1000000")])
    return b"".join(result.chunks)


def store_of(layout: str, city: Path, folder: Path) -> AnyStore:
    if layout == "one file":
        return open_store(city, cache=False)
    for dataset_id, paths in discover_sources(city).items():
        build_dataset_file(folder, dataset_id, paths, "2020-11-30T14:50:00.000Z")
    return DatasetStores(folder)


@pytest.mark.parametrize("layout", ["one file", "a file per dataset"])
def test_a_day_applied_as_it_is_read_equals_the_day_applied_whole(
    city: tuple[Path, list[Path]], tmp_path: Path, layout: str
) -> None:
    folder, days = city
    whole, streamed = store_of(layout, folder, tmp_path / "whole"), store_of(layout, folder, tmp_path / "streamed")
    try:
        for day in days:
            document = read_json_document(day)
            expected = apply_changes(whole, document)
            assert apply_changes_file(streamed, day, batch_rows=2) == expected
        assert document["datasets"][DOB_COMPLAINTS]["replace"], "a day without a full replace proves less"
        assert len(document["datasets"][HPD]["upsert"]) > 2, "a day within one batch proves less"
        for dataset_id in document["datasets"]:
            assert served(streamed, dataset_id) == served(whole, dataset_id), dataset_id
    finally:
        whole.close()
        streamed.close()


def test_the_rows_come_in_batches_before_the_file_is_read_to_its_end(tmp_path: Path) -> None:
    rows = [{"violationid": str(i), "class": "B"} for i in range(10)]
    body = ",\n".join(json.dumps(r) for r in rows)
    path = tmp_path / "day.json"
    path.write_text(f'{{"at":"2026-11-30T14:50:00.000Z","datasets":{{"{HPD}":{{"upsert":[\n{body},\n{{"violationid":\n')
    events = read_change_file(path, batch_rows=4)
    seen = [next(events), next(events), next(events)]
    with pytest.raises(DataFileError, match=r"day\.json:12: a row that spans lines"):
        next(events)
    assert seen[0] == "2026-11-30T14:50:00.000Z"
    assert [len(b.items) for b in seen[1:] if isinstance(b, ChangeBatch)] == [4, 4]


def test_a_document_on_one_line_is_read_from_its_structure(tmp_path: Path) -> None:
    document = {
        "datasets": {
            HPD: {"delete": ["1"], "upsert": [{"violationid": "7", "class": "C"}, {"violationid": "8"}]},
            DOB_COMPLAINTS: {"replace": []},
        },
    }
    path = tmp_path / "day.json"
    path.write_bytes(orjson.dumps(document))
    events = list(read_change_file(path, batch_rows=100))
    assert events == [
        ChangeBatch(HPD, "delete", ["1"]),
        ChangeBatch(HPD, "upsert", [{"violationid": "7", "class": "C"}, {"violationid": "8"}]),
        ChangeBatch(DOB_COMPLAINTS, "replace", []),
    ]


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (f'{{"datasets":{{"{HPD}":{{"upsert":[{{"violationid":"1"}}]', DataFileError, "truncated"),
        (f'{{"datasets":{{"{HPD}":{{"merge":[]}}}}}}', ValueError, "unknown operation 'merge'"),
        (f'{{"datasets":{{"{HPD}":{{"upsert":{{}}}}}}}}', ValueError, "upsert: expected a list"),
        (f'{{"datasets":{{"{HPD}":{{"delete":"1"}}}}}}', ValueError, "delete: expected a list"),
        ('{"datasets":[]}', DataFileError, "must hold an object of operations"),
        ('{"at":"2026-11-30T14:50:00.000Z"}', DataFileError, 'with a "datasets" object'),
        ('[{"datasets":{}}]', DataFileError, "one JSON object"),
        ('{"datasets":{}} {}', DataFileError, "one JSON object"),
        (f'{{"datasets":{{"{HPD}":{{"upsert":[{{"violationid":"1",}}]}}}}}}', DataFileError, "invalid JSON"),
        (f'{{"datasets":{{"{HPD}" {{"upsert":[]}}}}}}', DataFileError, "where ':' belongs"),
        (f'{{"datasets":{{"{HPD}":{{"upsert":[]}} "x":1}}}}', DataFileError, "where ',' or the closing"),
        ('{{"datasets":{}}}', DataFileError, "where a key belongs"),
        ('{"at":"2026-11-30T14:50:00.000Z","datasets":{}} 1', DataFileError, "outside the changes object"),
    ],
)
def test_a_file_that_is_not_a_changes_document_is_refused_with_its_line(
    tmp_path: Path, text: str, error: type[Exception], message: str
) -> None:
    path = tmp_path / "day.json"
    path.write_text(text)
    with pytest.raises(error, match=message):
        list(read_change_file(path, batch_rows=100))


def test_operations_out_of_apply_order_or_a_late_at_are_refused(city: tuple[Path, list[Path]], tmp_path: Path) -> None:
    folder, _ = city
    store = open_store(folder, cache=False)
    try:
        out_of_order = tmp_path / "out_of_order.json"
        out_of_order.write_bytes(
            orjson.dumps({"datasets": {HPD: {"upsert": [{"violationid": "x1"}], "delete": ["2"]}}})
        )
        with pytest.raises(ValueError, match="delete after upsert"):
            apply_changes_file(store, out_of_order)
        late_at = tmp_path / "late_at.json"
        late_at.write_bytes(orjson.dumps({"datasets": {HPD: {"upsert": []}}, "at": "2026-11-30T14:50:00.000Z"}))
        with pytest.raises(ValueError, match='"at" must come before "datasets"'):
            apply_changes_file(store, late_at)
        not_rows = tmp_path / "not_rows.json"
        not_rows.write_bytes(orjson.dumps({"datasets": {HPD: {"upsert": ["1"]}}}))
        with pytest.raises(ValueError, match="expected a list of row objects"):
            apply_changes_file(store, not_rows)
        # An empty delete after the upserts, as the synthetic city writes its days, is no change of order.
        synth_order = tmp_path / "synth_order.json"
        synth_order.write_bytes(orjson.dumps({"datasets": {HPD: {"upsert": [{"violationid": "x2"}], "delete": []}}}))
        assert apply_changes_file(store, synth_order)[HPD]["inserted"] == 1
    finally:
        store.close()
