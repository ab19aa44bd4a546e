"""What the synthetic city promises: determinism, NYC-like keys and class mix, ground truth that matches the
data, and days of changes that turn one snapshot into the next."""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest

from citysim.replay.changes import validate_changes
from citysim.replay.formats import open_bytes, read_json_document
from citysim.synth import SynthConfig, days_of_changes, true_probability, write_changes, write_city
from citysim.synth.changes import DailyVolumes
from citysim.synth.city import City
from citysim.synth.dates import day_number
from citysim.synth.nyc import NYC_DAILY, NYC_LOTS, NYC_VOLUMES, nyc_config
from tests.synth.conftest import SMALL, read_rows

TINY = SynthConfig(buildings=60, start=date(2020, 1, 1), end=date(2020, 12, 31), seed=3, batch_size=25)
KEYS = {
    "wvxf-dwi5": "violationid",
    "ygpa-z7cr": "problem_id",
    "eabe-havv": "complaint_number",
    "3h2n-5cm9": "isn_dob_bis_viol",
    "855j-jady": "violation_number",
    "6bgk-3dad": "ecb_violation_number",
    "tb8q-a3ar": "vacate_order_number",
    "erm2-nwe9": "unique_key",
}


def digest(directory: Path) -> dict[str, str]:
    """sha256 of every file the city wrote, by relative path; at least one file per dataset, so two empty folders
    never compare equal."""
    found = {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
    assert {name for name in found if name.endswith(".json")} >= {f"{dataset_id}.json" for dataset_id in KEYS}
    return found


def test_the_same_seed_writes_byte_identical_files(tmp_path: Path) -> None:
    write_city(TINY, tmp_path / "a")
    write_city(TINY, tmp_path / "b")
    write_city(SynthConfig(**{**TINY.__dict__, "seed": 4}), tmp_path / "c")
    a, b, c = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert a == b
    assert a["wvxf-dwi5.json"] != c["wvxf-dwi5.json"]


def test_two_processes_write_the_same_files_as_one(tmp_path: Path) -> None:
    one = write_city(TINY, tmp_path / "one", workers=1)
    two = write_city(TINY, tmp_path / "two", workers=2)
    assert digest(tmp_path / "one") == digest(tmp_path / "two")
    assert one == two


def test_a_compressed_city_is_the_same_files_zstd_compressed(tmp_path: Path) -> None:
    plain, packed = tmp_path / "plain", tmp_path / "packed"
    write_city(TINY, plain, truth=False)
    write_city(TINY, packed, truth=False, compress=True)
    day = date(2020, 12, 1)
    plain_day = write_changes(TINY, [day], plain / "changes", NYC_DAILY)[0]
    packed_day = write_changes(TINY, [day], packed / "changes", NYC_DAILY, compress=True)[0]
    assert packed_day.name == "2020-12-01.json.zst"
    plain_files = sorted(p.relative_to(plain).as_posix() for p in plain.rglob("*.json"))
    packed_files = sorted(p.relative_to(packed).as_posix() for p in packed.rglob("*") if p.is_file())
    assert packed_files == [name + ".zst" for name in plain_files]
    for name in plain_files:
        raw = (plain / name).read_bytes()
        with open_bytes(packed / f"{name}.zst") as fh:
            assert fh.read() == raw, name
        if len(raw) > 100_000:
            assert (packed / f"{name}.zst").stat().st_size < len(raw) / 5, name
    assert read_json_document(packed_day) == orjson.loads(plain_day.read_bytes())


def test_a_city_of_some_datasets_writes_those_files_as_the_whole_city_does(tmp_path: Path) -> None:
    chosen = frozenset({"wvxf-dwi5", "64uk-42ks"})  # one of each share, so both processes write
    whole, part = tmp_path / "whole", tmp_path / "part"
    write_city(TINY, whole, workers=1, truth=False)
    summary = write_city(TINY, part, workers=2, truth=False, datasets=chosen)
    assert sorted(p.name for p in part.iterdir()) == sorted(f"{d}.json" for d in chosen)
    for dataset_id in chosen:
        assert (part / f"{dataset_id}.json").read_bytes() == (whole / f"{dataset_id}.json").read_bytes()
    assert set(summary.rows) == chosen
    day = date(2020, 12, 1)
    every = write_changes(TINY, [day], tmp_path / "every", NYC_DAILY)[0]
    some = write_changes(TINY, [day], tmp_path / "some", NYC_DAILY, datasets=frozenset({"wvxf-dwi5", "eabe-havv"}))[0]
    every_doc, some_doc = orjson.loads(every.read_bytes()), orjson.loads(some.read_bytes())
    assert set(some_doc["datasets"]) == {"wvxf-dwi5", "eabe-havv"}
    for dataset_id in some_doc["datasets"]:
        assert some_doc["datasets"][dataset_id] == every_doc["datasets"][dataset_id]
    assert some_doc["datasets"]["wvxf-dwi5"]["upsert"], "a day with no HPD change proves nothing"
    with pytest.raises(ValueError, match="unknown dataset ids"):
        write_city(TINY, tmp_path / "bad", datasets=frozenset({"nope-nope"}))


def test_hpd_class_mix_is_close_to_the_real_one(small_city: Path) -> None:
    classes = Counter(r["class"] for r in read_rows(small_city / "wvxf-dwi5.json"))
    total = sum(classes.values())
    assert total > 2500
    for cls, share in {"A": 0.20, "B": 0.48, "C": 0.30, "I": 0.03}.items():
        assert classes[cls] / total == pytest.approx(share, abs=0.04), classes


def test_bbls_and_bins_have_the_nyc_structure(small_city: Path) -> None:
    pluto = list(read_rows(small_city / "64uk-42ks.json"))
    bbls = [r["bbl"].split(".")[0] for r in pluto]
    assert len(set(bbls)) == len(bbls) == SMALL.buildings
    for r, bbl in zip(pluto, bbls, strict=True):
        assert re.fullmatch(r"[1-5]\d{9}", bbl)
        assert bbl == f"{r['borocode']}{int(r['block']):05d}{int(r['lot']):04d}"
    for r in read_rows(small_city / "wvxf-dwi5.json"):
        if r.get("bbl", "0") != "0":
            assert r["bbl"] == f"{r['boroid']}{int(r['block']):05d}{int(r['lot']):04d}"
        if "bin" in r:
            assert re.fullmatch(r"[1-5]\d{6}", r["bin"]) and r["bin"][0] == r["boroid"]
            assert r["bin"][1:] != "000000"  # placeholder BINs mean "no building"


def test_violation_deadlines_follow_the_class_rules(small_city: Path) -> None:
    def days(r: dict, field: str) -> int:
        return date.fromisoformat(r[field][:10]).toordinal()

    for r in read_rows(small_city / "wvxf-dwi5.json"):
        if r["class"] == "I":
            assert "originalcorrectbydate" not in r and "novid" not in r
            continue
        to_correct = days(r, "originalcorrectbydate") - days(r, "novissueddate")
        assert to_correct == {"A": 95, "B": 35}.get(r["class"], to_correct)
        if r["class"] == "C":
            assert to_correct in (1, 5)
        assert r["violationstatus"] in ("Open", "Close")


def test_ground_truth_matches_the_data(small_city: Path) -> None:
    gt = small_city / "ground_truth"
    buildings = list(csv.DictReader((gt / "buildings.csv").open()))
    assert [b["bbl"] for b in buildings] == [r["bbl"].split(".")[0] for r in read_rows(small_city / "64uk-42ks.json")]
    events = list(csv.DictReader((gt / "events.csv").open()))
    by_dataset = Counter(e["dataset_id"] for e in events)
    settled = (SMALL.end - timedelta(days=10)).isoformat()  # HPD approves violations up to a week later
    for dataset_id, key in KEYS.items():
        in_data = {r[key] for r in read_rows(small_city / f"{dataset_id}.json")}
        logged = {e["key"] for e in events if e["dataset_id"] == dataset_id}
        early = {e["key"] for e in events if e["dataset_id"] == dataset_id and e["date"] <= settled}
        in_data -= {"1000000"} if dataset_id == "3h2n-5cm9" else set()  # the TEST/RECORD row is not an event
        assert early <= in_data <= logged, dataset_id
        assert by_dataset[dataset_id] == len(logged), f"{dataset_id}: event keys are unique"
    serious = [e for e in events if e["serious"] == "1" and e["dataset_id"] == "wvxf-dwi5"]
    data_c = {r["violationid"] for r in read_rows(small_city / "wvxf-dwi5.json") if r["class"] == "C"}
    assert {e["key"] for e in serious if e["date"] <= settled} <= data_c <= {e["key"] for e in serious}
    probs = true_probability(gt, date(2020, 1, 1))
    assert set(probs) == {b["bbl"] for b in buildings}
    assert all(0.0 <= p <= 1.0 for p in probs.values())
    assert [round(probs[b["bbl"]], 5) for b in buildings] == pytest.approx(
        [float(b["p_serious_2020-01"]) for b in buildings], abs=1e-4
    )


def test_true_risk_is_predictive_but_noisy(small_city: Path) -> None:
    gt = small_city / "ground_truth"
    probs = true_probability(gt, date(2020, 1, 1))
    hit = {
        e["bbl"]
        for e in csv.DictReader((gt / "events.csv").open())
        if e["serious"] == "1" and "2020-01-01" <= e["date"] < "2021-01-01"
    }
    bbls = sorted(probs)
    y = np.array([b in hit for b in bbls])
    p = np.array([probs[b] for b in bbls])
    # AUC as the probability that a positive outranks a negative.
    ranks = p.argsort().argsort() + 1
    auc = (ranks[y].sum() - y.sum() * (y.sum() + 1) / 2) / (y.sum() * (~y).sum())
    assert 0.75 < auc < 0.95
    assert p.mean() == pytest.approx(y.mean(), abs=0.07)  # calibrated: the truth is the truth


@pytest.mark.parametrize(
    "volumes",
    [
        DailyVolumes(),
        DailyVolumes(republish=(("wvxf-dwi5", 0.05), ("erm2-nwe9", 0.1)), replace=frozenset({"eabe-havv"})),
    ],
    ids=["changes only", "republished and replaced"],
)
def test_a_day_of_changes_turns_one_snapshot_into_the_next(tmp_path: Path, volumes: DailyVolumes) -> None:
    day = date(2020, 11, 10)
    before, after = tmp_path / "before", tmp_path / "after"
    write_city(TINY, before, as_of=day_number(day - timedelta(days=1)))
    write_city(TINY, after, as_of=day_number(day))
    doc = days_of_changes(TINY, [day], volumes)[day]
    plain = days_of_changes(TINY, [day])[day]
    validate_changes(doc)
    assert set(doc) == {"at", "datasets"}
    changed = 0
    for dataset_id, key in KEYS.items():
        state = {r[key]: r for r in read_rows(before / f"{dataset_id}.json")}
        ops = doc["datasets"][dataset_id]
        assert ops["delete"] == []
        if dataset_id in volumes.replace:
            assert "upsert" not in ops
            state = {r[key]: r for r in ops["replace"]}
        for row in ops.get("upsert", []):
            state[row[key]] = {**state.get(row[key], {}), **row}
            changed += 1
        expected = {r[key]: r for r in read_rows(after / f"{dataset_id}.json")}
        assert state == expected, dataset_id
        if dataset_id in dict(volumes.republish):
            # The republished rows come on top of the day's own changes, all of which are still there.
            keys = {r[key] for r in ops["upsert"]}
            assert keys > {r[key] for r in plain["datasets"][dataset_id]["upsert"]}
    assert changed > 0


def test_volume_factors_scale_a_dataset_and_its_share_of_the_true_risk(tmp_path: Path) -> None:
    config = SynthConfig(buildings=400, start=date(2019, 1, 1), end=date(2020, 12, 31), seed=4)
    halved = SynthConfig(**{**config.__dict__, "volumes": (("wvxf-dwi5", 0.5), ("3h2n-5cm9", 2.0))})
    rows = [write_city(c, tmp_path / str(i)).rows for i, c in enumerate((config, halved))]
    assert rows[1]["wvxf-dwi5"] / rows[0]["wvxf-dwi5"] == pytest.approx(0.5, abs=0.05)
    assert rows[1]["3h2n-5cm9"] / rows[0]["3h2n-5cm9"] == pytest.approx(2.0, abs=0.3)
    assert rows[1]["ygpa-z7cr"] == pytest.approx(rows[0]["ygpa-z7cr"], rel=0.05)
    rates = [np.load(tmp_path / str(i) / "ground_truth" / "serious_rate_monthly.npy") for i in (0, 1)]
    # HPD class C carries 0.90 of the serious rate and DOB unsafe-building 0.03 (citysim/synth/risk.py).
    assert rates[1].sum() / rates[0].sum() == pytest.approx(0.90 * 0.5 + 0.03 * 2.0 + 0.07, rel=1e-4)


def test_the_nyc_config_has_the_real_rows_per_lot() -> None:
    config = nyc_config(2000 / NYC_LOTS)
    assert config.buildings == 2000 and config.volumes == NYC_VOLUMES
    rows = Counter()
    for cb in City(config).batches():
        rows.update({ds: len(ev) for ds, ev in cb.events.items()})
    real = {"wvxf-dwi5": 11.3e6, "ygpa-z7cr": 16.3e6, "erm2-nwe9": 22.7e6, "eabe-havv": 3.1e6, "3h2n-5cm9": 2.5e6}
    for ds, total in real.items():
        assert rows[ds] / 2000 == pytest.approx(total / NYC_LOTS, rel=0.1), ds
    assert "eabe-havv" in NYC_DAILY.replace


def test_every_dob_complaint_a_day_changes_carries_that_day_where_a_partial_read_looks() -> None:
    # DOB complaints are read partially between whole reads (sentinel/ingest/partial_read.py): a change the
    # partial read's date clause cannot see would make the benchmark's daily figures lie.
    from sentinel.datasets import load_datasets

    spec = load_datasets()["dob_complaints"].partial_read
    assert spec is not None
    days = [date(2021, 6, 1) + timedelta(days=n) for n in range(40)]
    docs = days_of_changes(SMALL, days)
    changed = 0
    for day, doc in docs.items():
        stamp = day.strftime(spec.date_format)
        for row in doc["datasets"]["eabe-havv"]["upsert"]:
            assert stamp in {row.get(name) for name in spec.changed_on}, row
            changed += 1
    assert changed > 20, "too few changes to prove anything"
