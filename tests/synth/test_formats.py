"""Synthetic rows look like the real ones, field by field: same names, same value shapes."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from citysim.replay.formats import read_dataset_file
from citysim.replay.schemas import schema_for
from tests.synth.conftest import read_rows
from tests.synth.patterns import pattern_of_any

# Real samples per dataset id (API JSON where it exists, else the portal CSV export).
SAMPLES: dict[str, list[str]] = {
    "wvxf-dwi5": ["hpd_violations/tablynn/housing_code_violations.json", "hpd_violations/nycdb/hpd_violations.csv"],
    "3h2n-5cm9": ["dob_violations/tablynn/dob_violations.json"],
    "855j-jady": ["dob_violations/nycdb/dob_safety_violations.csv"],
    "6bgk-3dad": ["ecb_violations/nycdb/ecb_violations.csv"],
    "ygpa-z7cr": ["hpd_complaints/nycdb/hpd_complaints_and_problems.csv"],
    "eabe-havv": ["dob_complaints/tablynn/dob_complaints.json"],
    "erm2-nwe9": ["service_requests_311/somaiyahhafeez-newyork/311.csv"],
    "64uk-42ks": ["pluto/nycdb/pluto_latest.csv"],
    "tesw-yqqr": ["hpd_registrations/nycdb/hpd_registrations.csv"],
    "feu5-w2e2": ["hpd_registrations/nycdb/hpd_contacts.csv"],
    "tb8q-a3ar": ["hpd_violations/nycdb/hpd_vacateorders.csv"],
}

# Shapes the synthetic data has that the small real samples happen not to show, each a documented real trait.
EXCEPTIONS: dict[str, dict[str, set[str]]] = {
    "3h2n-5cm9": {
        "issue_date": {"digits", "text", "code"},  # garbage "000000" / "Y9990120" (NYC_DATA.md 5.6)
        "lot": {"digits"},
        "house_number": {"code"},  # the TEST/RECORD row
        "violation_number": {"code"},
    },
    "wvxf-dwi5": {"bbl": {"code"}},  # BBL "0" (NYC_DATA.md 2)
    "eabe-havv": {"complaint_category": {"code"}},  # "4A", "6S" (NYC_DATA.md 3.6); the 1989 sample has none
    # The 5-row ECB sample shows few shapes; these are the ones NYC_DATA.md 3.4 documents.
    "6bgk-3dad": {
        "respondent_zip": {"blank"},
        "respondent_house_number": {"hyphen_digits"},
        "penality_imposed": {"decimal"},
        "amount_paid": {"decimal"},
        "balance_due": {"decimal"},
        "infraction_code1": {"code", "digits"},
        "hearing_time": {"digits"},
        "severity": {"text"},
        "lot": {"digits"},
    },
    # Sample-size gaps: the CSV samples have 5-100 rows, mostly from one borough.
    "855j-jady": {"house_number": {"hyphen_digits", "digits"}, "violation_remarks": {"text"}},
    "ygpa-z7cr": {"house_number": {"hyphen_digits"}, "apartment": {"code", "text"}},
    "erm2-nwe9": {"incident_address": {"text"}, "descriptor": {"text"}},
    # bbl: the API JSON prints it "1000010100.00000000" (NYC_DATA.md 3.8); the sample is a portal CSV export.
    "64uk-42ks": {
        "bbl": {"decimal"},
        "address": {"text"},
        "ownertype": {"code"},
        "sanitsub": {"code"},
        "zonemap": {"code"},
    },
    "tesw-yqqr": {
        "housenumber": {"hyphen_digits"},
        "lowhousenumber": {"hyphen_digits"},
        "highhousenumber": {"hyphen_digits"},
    },
    "feu5-w2e2": {"businesshousenumber": {"hyphen_digits"}, "contactdescription": {"code"}},  # "LLC"
    "tb8q-a3ar": {"house_number": {"hyphen_digits"}},
}
# Always-present real fields that a synthetic row may lack, and why.
MAY_LACK: dict[str, set[str]] = {
    "wvxf-dwi5": {"bin", "bbl", "story"},  # rows without bin/bbl exist; story is absent on ~6 % of real rows
    "3h2n-5cm9": {"bin", "street", "house_number"},  # the TEST/RECORD row has no bin
    # The real sample is 1989 complaints, all closed; active ones have no disposition or inspection yet.
    "eabe-havv": {"disposition_code", "disposition_date", "inspection_date"},
    "6bgk-3dad": {"served_date"},  # a summons issued in the last days before the snapshot is not served yet
}


def real_rows(realdata: Path, dataset_id: str) -> list[dict]:
    rows: list[dict] = []
    for rel in SAMPLES[dataset_id]:
        rows.extend(read_dataset_file(realdata / rel, dataset_id))
    return rows


def profile(rows: list[dict]) -> tuple[dict[str, set[str]], dict[str, int]]:
    patterns: dict[str, set[str]] = defaultdict(set)
    present: dict[str, int] = defaultdict(int)
    for row in rows:
        for k, v in row.items():
            patterns[k].add(pattern_of_any(v))
            present[k] += 1
    return patterns, present


@pytest.mark.parametrize("dataset_id", sorted(SAMPLES))
def test_synthetic_fields_are_real_fields_with_real_value_shapes(
    realdata: Path, small_city: Path, dataset_id: str
) -> None:
    real = real_rows(realdata, dataset_id)
    synth = list(read_rows(small_city / f"{dataset_id}.json"))
    assert real and synth
    real_patterns, real_present = profile(real)
    synth_patterns, _ = profile(synth)
    # The real field set: the sample's fields plus the documented schema (samples are too small to show all).
    known = set(real_patterns) | {c.field for c in schema_for(dataset_id).columns}
    assert set(synth_patterns) <= known, f"unknown fields: {set(synth_patterns) - known}"
    always = {f for f, n in real_present.items() if n == len(real)} - MAY_LACK.get(dataset_id, set())
    for row in synth[1:] if dataset_id == "3h2n-5cm9" else synth:
        missing = always - set(row)
        assert not missing, f"{dataset_id} row lacks always-present fields {missing}: {row}"
    exceptions = EXCEPTIONS.get(dataset_id, {})
    for field, shapes in synth_patterns.items():
        if field not in real_patterns:
            continue  # a schema field the sample lacks: nothing to compare with
        allowed = real_patterns[field] | exceptions.get(field, set())
        assert shapes <= allowed, f"{dataset_id}.{field}: synthetic shapes {shapes - allowed} not in real {allowed}"


def city_files(small_city: Path) -> list[Path]:
    """The city's dataset files: one per dataset id, each checked by the loops below (an empty folder fails)."""
    files = sorted(small_city.glob("*.json"))
    assert [p.stem for p in files] == sorted(SAMPLES)
    return files


def test_every_value_is_a_string_except_checkboxes_and_points(small_city: Path) -> None:
    rows = 0
    for path in city_files(small_city):
        for row in read_rows(path):
            rows += 1
            for k, v in row.items():
                assert v is not None, f"{path.name}.{k} is null: nulls must be omitted"
                assert isinstance(v, str) or (path.stem, k) in {
                    ("64uk-42ks", "splitzone"),
                    ("64uk-42ks", "irrlotcode"),
                    ("erm2-nwe9", "location"),
                }, f"{path.name}.{k} = {v!r}"
    assert rows > 1000


def test_the_files_are_valid_json_arrays(small_city: Path) -> None:
    for path in city_files(small_city):
        assert isinstance(orjson.loads(path.read_bytes()), list)


def test_dob_text_dates_and_padding_follow_the_real_conventions(small_city: Path) -> None:
    complaints = list(read_rows(small_city / "eabe-havv.json"))
    assert all(len(r["house_number"]) == 12 and len(r["house_street"]) == 32 for r in complaints)
    assert all(r["special_district"] == "   " for r in complaints)
    pluto = list(read_rows(small_city / "64uk-42ks.json"))
    assert all(r["bbl"].endswith(".00000000") and len(r["bbl"]) == 19 for r in pluto)
    dob = list(read_rows(small_city / "3h2n-5cm9.json"))
    assert dob[0]["house_number"] == "TEST" and dob[0]["street"] == "RECORD"
    assert all(("*" in r["number"]) == ("*" in r["violation_category"].split("-")[0]) for r in dob)
