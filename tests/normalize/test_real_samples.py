"""Every real NYC sample normalizes, and known rows keep the values read off the sample files."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from sentinel.datasets import dataset_by_socrata_id, load_datasets
from sentinel.normalize import normalize_page, normalizer_for
from sentinel.records import ROW_TYPES, copy_values


def _samples(realdata: Path) -> list[tuple[Path, str]]:
    from citysim.replay.formats import realdata_samples

    return realdata_samples(realdata)


def test_every_real_sample_file_normalizes(realdata: Path) -> None:
    from citysim.replay.formats import read_dataset_file

    samples = _samples(realdata)
    assert len(samples) >= 14
    for path, socrata_id in samples:
        config = dataset_by_socrata_id(socrata_id)
        raw = list(read_dataset_file(path, socrata_id))
        batch = normalize_page(config, raw)
        # Every record is accounted for: a row of the dataset's table, a reject, a skip or a same-key repeat.
        main_rows = len(batch.rows_for(config.target_table))
        assert main_rows + len(batch.rejects) + batch.skipped + batch.duplicates == len(raw), path
        # Nothing crashes a normalizer, and at most a few rows in a real sample lack any location.
        assert not [r for r in batch.rejects if r.reason.startswith("normalizer error")], path
        assert len(batch.rejects) <= max(1, len(raw) // 50), (path, [r.reason for r in batch.rejects])
        for table, rows in batch.rows.items():
            for row in rows:
                assert isinstance(row, ROW_TYPES[table])
                assert len(copy_values(row)) == len(row.columns)


def _one(read_sample, dataset: str, relative: str, key: str):
    """The normalized record of a sample file whose natural key (configs/datasets.yaml) is `key`."""
    config = load_datasets()[dataset]
    raw = next(r for r in read_sample(relative, config.socrata_id) if r.get(config.natural_key) == key)
    return normalizer_for(dataset)(raw)


def test_hpd_violation_class_a_open_with_certify_and_correct_by(read_sample) -> None:
    row = _one(read_sample, "hpd_violations", "hpd_violations/tablynn/housing_code_violations.json", "10000197")
    assert (row.source, row.bbl, row.bin, row.borough) == ("HPD", "2028100045", "2007730", 2)
    assert (row.violation_class, row.severity, row.status) == ("A", "non_hazardous", "open")
    assert row.status_raw == "NOT COMPLIED WITH"
    assert row.issued_date == date(2013, 10, 15)
    assert row.certify_by_date == date(2014, 2, 1)
    assert row.correct_by_date == date(2014, 1, 18)
    assert row.status_date == date(2020, 10, 15)
    assert row.warnings == []


def test_hpd_violation_closed_is_from_violationstatus(read_sample) -> None:
    row = _one(read_sample, "hpd_violations", "hpd_violations/tablynn/housing_code_violations.json", "10034143")
    assert (row.violation_class, row.severity, row.status) == ("B", "hazardous", "closed")
    assert row.bbl == "4033340299"


def test_hpd_violation_with_bbl_zero_derives_bbl_from_block_and_lot(read_sample) -> None:
    row = _one(read_sample, "hpd_violations", "hpd_violations/tablynn/housing_code_violations.json", "14272086")
    assert row.bbl == "3072630112"
    assert row.bin == "3392249"


def test_dob_violation_resolved_by_star_and_bbl_from_five_char_lot(read_sample) -> None:
    row = _one(read_sample, "dob_violations", "dob_violations/tablynn/dob_violations.json", "2286033")
    assert (row.source, row.bbl, row.bin, row.borough) == ("DOB", "1005770019", "1009713", 1)
    assert (row.violation_class, row.severity, row.status) == ("E", "non_hazardous", "closed")
    assert row.status_raw == "V*-DOB VIOLATION - Resolved"
    assert row.category == "E-ELEVATOR"
    assert (row.issued_date, row.status_date) == (date(2018, 5, 7), date(2022, 5, 9))


def test_dob_violation_with_ambiguous_boro_b_takes_borough_from_bin(read_sample) -> None:
    raw = next(
        r for r in read_sample("dob_violations/tablynn/dob_violations.json", "3h2n-5cm9") if r.get("boro") == "B"
    )
    row = normalizer_for("dob_violations")(raw)
    assert row.borough == 2
    assert row.bbl == "2026230135"
    assert any(w.startswith("borough:") for w in row.warnings)


def test_ecb_violation_money_hearing_and_status(read_sample) -> None:
    row = _one(read_sample, "ecb_violations", "ecb_violations/nycdb/ecb_violations.csv", "34830294Z")
    assert (row.source, row.bbl, row.status, row.status_raw) == ("ECB", "4033880022", "closed", "RESOLVE")
    assert (row.penalty_imposed, row.amount_paid, row.balance_due) == (
        Decimal("4000.00"),
        Decimal("937.89"),
        Decimal("0"),
    )
    assert row.hearing_date == date(2010, 5, 25)
    assert row.issued_date == date(2010, 1, 29)
    assert row.severity == "unknown"


def test_ecb_non_hazardous_with_five_char_lot(read_sample) -> None:
    row = _one(read_sample, "ecb_violations", "ecb_violations/nycdb/ecb_violations.csv", "38151068L")
    assert (row.bbl, row.violation_class, row.severity) == ("1000330011", "Non-Hazardous", "non_hazardous")


def test_vacate_order_is_an_immediately_hazardous_violation_open_until_rescinded(read_sample) -> None:
    rows = {
        r["vacate_order_number"]: normalizer_for("hpd_vacate_orders")(r)
        for r in read_sample("hpd_violations/nycdb/hpd_vacateorders.csv", "tb8q-a3ar")[:2]
    }
    active, rescinded = rows["100282"], rows["142395"]
    assert (active.source, active.severity, active.status) == ("HPD_VACATE", "immediately_hazardous", "open")
    assert (active.bbl, active.borough, active.issued_date) == ("3013480010", 3, date(2012, 11, 23))
    assert (rescinded.status, rescinded.status_date) == ("closed", date(2018, 9, 12))


def test_hpd_complaint_problem_keeps_complaint_id_and_flags(read_sample) -> None:
    row = _one(read_sample, "hpd_complaints", "hpd_complaints/nycdb/hpd_complaints_and_problems.csv", "17704039")
    assert (row.source, row.source_id, row.complaint_id) == ("HPD", "17704039", "8591909")
    assert (row.bbl, row.bin, row.status, row.is_duplicate) == ("1021800018", "1064388", "closed", False)
    assert (row.category, row.priority) == ("ELECTRIC", "IMMEDIATE EMERGENCY")
    assert (row.received_date, row.closed_date) == (date(2017, 8, 1), date(2017, 8, 7))


def test_dob_complaint_has_only_a_bin_and_padded_text(read_sample) -> None:
    row = _one(read_sample, "dob_complaints", "dob_complaints/tablynn/dob_complaints.json", "1000006")
    assert (row.source, row.bin, row.bbl, row.borough) == ("DOB", "1006289", None, 1)
    assert (row.status, row.received_date, row.closed_date) == ("closed", date(1988, 12, 30), date(1989, 1, 4))


def test_311_keeps_only_hpd_and_dob_requests(read_sample) -> None:
    raw = read_sample("service_requests_311/somaiyahhafeez-newyork/311.csv", "erm2-nwe9")
    batch = normalize_page("service_requests_311", raw)
    kept = batch.rows_for("complaints")
    ours = [r for r in raw if r.get("agency") in ("HPD", "DOB")]
    assert len(kept) + len(batch.rejects) == len(ours) == 85
    assert batch.skipped == len(raw) - len(ours) == 150
    assert {r.source for r in kept} == {"311"}
    heat = next(r for r in kept if r.source_id == "64451250")
    assert (heat.bbl, heat.borough, heat.category, heat.status) == ("1018430060", 1, "HEAT/HOT WATER", "closed")


def test_registration_yields_registration_and_building(read_sample) -> None:
    registration, building = _one(
        read_sample, "hpd_registrations", "hpd_registrations/nycdb/hpd_registrations.csv", "336228"
    )
    assert (registration.registration_id, registration.hpd_building_id) == (336228, 168059)
    assert (registration.bin, registration.bbl) == ("3157552", "3061760029")
    assert registration.registration_end_date == date(2018, 9, 1)
    assert (building.bin, building.bbl, building.hpd_building_id, building.street_name) == (
        "3157552",
        "3061760029",
        168059,
        "71 STREET",
    )


def test_contact_address_is_assembled_as_written(read_sample) -> None:
    row = _one(read_sample, "hpd_registration_contacts", "hpd_registrations/nycdb/hpd_contacts.csv", "33193103")
    assert (row.contact_id, row.registration_id, row.contact_type, row.ownership_form) == (
        33193103,
        331931,
        "CorporateOwner",
        "CORP",
    )
    assert row.business_address == "26 DELAVAN STREET, BROKLYN, NY 11231"


def test_pluto_lot_becomes_a_property(read_sample) -> None:
    row = normalizer_for("pluto")(read_sample("pluto/nycdb/pluto_latest.csv", "64uk-42ks")[0])
    assert (row.bbl, row.borough, row.block, row.lot) == ("2054800111", 2, 5480, 111)
    assert (row.address, row.year_built, row.land_use, row.pluto_version) == (
        "761 CLARENCE AVENUE",
        1950,
        "01",
        "26v1",
    )


@pytest.mark.parametrize("reverse", [False, True])
def test_dob_complaint_numbers_repeat_and_the_newest_disposition_wins(read_sample, reverse: bool) -> None:
    raw = read_sample("dob_complaints/tablynn/dob_complaints.json", "eabe-havv")
    batch = normalize_page("dob_complaints", list(reversed(raw)) if reverse else raw)
    row = next(r for r in batch.rows_for("complaints") if r.source_id == "1000386")
    assert row.status_date == date(2020, 7, 7)
    assert batch.duplicates == 3
