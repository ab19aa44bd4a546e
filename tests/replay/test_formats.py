"""Dataset file readers: every layout the replay server loads yields rows exactly as the SODA JSON API would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citysim.replay.formats import (
    dataset_id_for_sample,
    portal_date_to_floating,
    read_dataset_file,
    realdata_samples,
)
from tests.conftest import REALDATA

ROWS = [
    {"violationid": "1", "class": "C", "inspectiondate": "2024-01-02T00:00:00.000"},
    {"violationid": "2", "class": "A", "apartment": "4A"},
]


def test_one_row_per_line_layout_is_streamed(tmp_path: Path) -> None:
    path = tmp_path / "wvxf-dwi5.json"
    lines = ["[", *(json.dumps(r) + ("," if i < len(ROWS) - 1 else "") for i, r in enumerate(ROWS)), "]"]
    path.write_text("\n".join(lines) + "\n")
    assert list(read_dataset_file(path, "wvxf-dwi5")) == ROWS


def test_socrata_leading_comma_layout_is_read(tmp_path: Path) -> None:
    path = tmp_path / "wvxf-dwi5.json"
    path.write_text("[" + "\n,".join(json.dumps(r) for r in ROWS) + "]\n")
    assert list(read_dataset_file(path, "wvxf-dwi5")) == ROWS


def test_any_other_json_array_falls_back_and_drops_nulls(tmp_path: Path) -> None:
    path = tmp_path / "wvxf-dwi5.json"
    path.write_text(json.dumps([{**ROWS[0], "apartment": None}, ROWS[1]], indent=4))
    assert list(read_dataset_file(path, "wvxf-dwi5")) == ROWS


def test_a_broken_line_in_the_streamed_layout_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "wvxf-dwi5.json"
    path.write_text('[\n{"violationid": "1"},\n{"violationid": \n]\n')
    with pytest.raises(ValueError, match=":3:"):
        list(read_dataset_file(path, "wvxf-dwi5"))


def test_portal_csv_maps_headers_converts_dates_and_drops_empty_values(tmp_path: Path) -> None:
    path = tmp_path / "wvxf-dwi5.csv"
    path.write_text("ViolationID,Class,InspectionDate,Apartment,OrderNumber\n10000000,B,10/09/2013,,508\n")
    assert list(read_dataset_file(path, "wvxf-dwi5")) == [
        {"violationid": "10000000", "class": "B", "inspectiondate": "2013-10-09T00:00:00.000", "ordernumber": "508"}
    ]


def test_text_dates_stay_as_the_city_wrote_them(tmp_path: Path) -> None:
    # DOB complaints' date_entered is text MM/DD/YYYY in the API too; only calendar_date columns are converted.
    path = tmp_path / "eabe-havv.csv"
    path.write_text("Complaint Number,Date Entered,DOBRunDate\n1,06/08/2011,04/26/2013 12:00:00 AM\n")
    assert list(read_dataset_file(path, "eabe-havv")) == [
        {"complaint_number": "1", "date_entered": "06/08/2011", "dobrundate": "2013-04-26T00:00:00.000"}
    ]


def test_pluto_numbers_lose_thousands_separators_and_checkboxes_become_booleans(tmp_path: Path) -> None:
    path = tmp_path / "64uk-42ks.csv"
    path.write_text('"Tax block","lotarea","splitzone","address"\n"5480","1,700","false","1,2 MAIN ST"\n')
    assert list(read_dataset_file(path, "64uk-42ks")) == [
        {"block": "5480", "lotarea": "1700", "splitzone": False, "address": "1,2 MAIN ST"}
    ]


def test_api_csv_header_is_already_field_names(tmp_path: Path) -> None:
    path = tmp_path / "3h2n-5cm9.csv"
    path.write_text("isn_dob_bis_viol,issue_date,lot\n544483,19980504,00063\n")
    assert list(read_dataset_file(path, "3h2n-5cm9")) == [
        {"isn_dob_bis_viol": "544483", "issue_date": "19980504", "lot": "00063"}
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10/09/2013", "2013-10-09T00:00:00.000"),
        ("8/8/2007", "2007-08-08T00:00:00.000"),
        ("03/24/2025 11:33:07 PM", "2025-03-24T23:33:07.000"),
        ("03/25/2025 12:45:11 AM", "2025-03-25T00:45:11.000"),
        ("2013-10-09T00:00:00.000", "2013-10-09T00:00:00.000"),
    ],
)
def test_portal_dates(raw: str, expected: str) -> None:
    assert portal_date_to_floating(raw) == expected


def test_every_real_sample_has_a_dataset_id_and_reads(realdata_sources: dict[str, list[Path]]) -> None:
    samples = realdata_samples(REALDATA)
    assert len(samples) >= 30
    for path, dataset_id in samples:
        assert dataset_id_for_sample(path) == dataset_id
        rows = list(read_dataset_file(path, dataset_id))
        assert rows, path
        assert all("" not in r.values() for r in rows), path
