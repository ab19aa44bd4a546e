"""Rejects, skips, warnings and content hashes, on small explicit records."""

from __future__ import annotations

from typing import Any

import pytest

from sentinel.normalize import RejectRecord, SkipRecord, normalize_page, normalizer_for
from sentinel.normalize.hashing import content_hash


def hpd_violation(**overrides: Any) -> dict[str, Any]:
    raw = {
        "violationid": "10000197",
        "boroid": "2",
        "boro": "BRONX",
        "block": "2810",
        "lot": "45",
        "class": "C",
        "inspectiondate": "2013-10-08T00:00:00.000",
        "novissueddate": "2013-10-15T00:00:00.000",
        "originalcertifybydate": "2014-02-01T00:00:00.000",
        "newcertifybydate": "2014-03-01T00:00:00.000",
        "violationstatus": "Open",
        "currentstatus": "NOV SENT OUT",
        "bin": "2007730",
        "bbl": "2028100045",
    }
    raw.update(overrides)
    return {k: v for k, v in raw.items() if v is not None}


SYSTEM = {":id": "row-pux7.2d9r~s2k7", ":created_at": "2025-03-03T14:15:14.576Z", ":version": "rv-1"}


def test_content_hash_ignores_socrata_system_fields() -> None:
    plain = hpd_violation()
    first = {**plain, **SYSTEM, ":updated_at": "2025-03-03T14:15:14.576Z"}
    replaced = {**plain, **SYSTEM, ":id": "row-new", ":updated_at": "2026-01-01T00:00:00.000Z"}
    assert content_hash(first) == content_hash(replaced) == content_hash(plain)


def test_content_hash_does_not_depend_on_key_order() -> None:
    raw = hpd_violation()
    assert content_hash(dict(reversed(list(raw.items())))) == content_hash(raw)


def test_content_hash_changes_when_a_value_changes() -> None:
    assert content_hash(hpd_violation(violationstatus="Close")) != content_hash(hpd_violation())
    assert content_hash(hpd_violation(apartment="4A")) != content_hash(hpd_violation())


def test_dob_complaint_hash_ignores_the_daily_export_date() -> None:
    normalize = normalizer_for("dob_complaints")
    raw = {"complaint_number": "1000006", "status": "CLOSED", "bin": "1006289", "date_entered": "12/30/1988"}
    monday = normalize({**raw, "dobrundate": "20260720093015"})
    tuesday = normalize({**raw, "dobrundate": "20260721093015"})
    assert monday.content_hash == tuesday.content_hash


def test_source_updated_at_comes_from_updated_at() -> None:
    row = normalizer_for("hpd_violations")(hpd_violation(**{":updated_at": "2025-03-03T14:15:14.576Z"}))
    assert row.source_updated_at is not None
    assert row.source_updated_at.isoformat() == "2025-03-03T14:15:14.576000+00:00"
    assert row.raw[":updated_at"] == "2025-03-03T14:15:14.576Z"


def test_new_certify_by_date_wins_over_original() -> None:
    row = normalizer_for("hpd_violations")(hpd_violation())
    assert str(row.certify_by_date) == "2014-03-01"
    assert row.severity == "immediately_hazardous"


def test_bad_dates_are_none_with_a_reason_and_the_row_is_kept() -> None:
    row = normalizer_for("hpd_violations")(hpd_violation(novissueddate="Y9990120", newcertifybydate="000000"))
    assert row.issued_date is not None  # falls back to the inspection date
    assert str(row.certify_by_date) == "2014-02-01"  # falls back to the original certify-by date
    assert any(w.startswith("novissueddate:") and "Y9990120" in w for w in row.warnings)
    assert any(w.startswith("newcertifybydate:") and "000000" in w for w in row.warnings)


def test_placeholder_bin_is_null_and_bbl_still_locates_the_violation() -> None:
    row = normalizer_for("hpd_violations")(hpd_violation(bin="2000000"))
    assert row.bin is None
    assert row.bbl == "2028100045"
    assert not any(w.startswith("bin:") for w in row.warnings)


def test_missing_natural_key_is_rejected_with_a_reason() -> None:
    with pytest.raises(RejectRecord, match="violationid"):
        normalizer_for("hpd_violations")(hpd_violation(violationid=None))


def test_violation_without_any_location_is_rejected() -> None:
    raw = hpd_violation(bbl="0", bin="0", block=None, lot=None)
    with pytest.raises(RejectRecord, match="no usable location"):
        normalizer_for("hpd_violations")(raw)


def test_rejected_rows_carry_reason_key_and_raw_in_the_batch() -> None:
    good = hpd_violation()
    no_key = hpd_violation(violationid=None)
    nowhere = hpd_violation(violationid="2", bbl="0", bin="0", block=None, lot=None)
    batch = normalize_page("hpd_violations", [good, no_key, nowhere])
    assert len(batch.rows_for("violations")) == 1
    assert [(r.source_key, r.reason.split(":")[0]) for r in batch.rejects] == [
        (None, "missing violationid"),
        ("2", "no usable location"),
    ]
    assert batch.rejects[1].raw is nowhere
    assert all(r.dataset == "hpd_violations" for r in batch.rejects)


def test_a_normalizer_crash_rejects_the_record_not_the_page() -> None:
    def broken(raw: dict[str, Any]) -> Any:
        raise ValueError("boom")

    batch = normalize_page("hpd_violations", [hpd_violation()], normalizer=broken)
    assert batch.rejects[0].reason == "normalizer error: ValueError: boom"


def test_311_requests_of_other_agencies_are_skipped_not_rejected() -> None:
    normalize = normalizer_for("service_requests_311")
    nypd = {"unique_key": "64446107", "agency": "NYPD", "status": "Closed", "bbl": "3076170017"}
    with pytest.raises(SkipRecord):
        normalize(nypd)
    hpd = {**nypd, "unique_key": "1", "agency": "HPD", "borough": "Unspecified", "status": "Unspecified"}
    batch = normalize_page("service_requests_311", [nypd, hpd])
    assert (batch.skipped, len(batch.rejects), len(batch.rows_for("complaints"))) == (1, 0, 1)
    row = batch.rows_for("complaints")[0]
    assert row.borough == 3  # "Unspecified" borough falls back to the bbl
    assert row.status == "open"
    assert any(w.startswith("status:") for w in row.warnings)
    assert batch.warnings == len(row.warnings)


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("Hazardous", "hazardous"),
        ("Non-Hazardous", "non_hazardous"),
        ("CLASS - 1", "immediately_hazardous"),
        ("CLASS - 2", "non_hazardous"),
        ("CLASS - 3", "non_hazardous"),
        ("Unknown", "unknown"),
    ],
)
def test_ecb_severity_vocabulary(severity: str, expected: str) -> None:
    raw = {"ecb_violation_number": "1", "bin": "1014398", "boro": "1", "block": "00784", "lot": "0015"}
    row = normalizer_for("ecb_violations")({**raw, "severity": severity, "ecb_violation_status": "ACTIVE"})
    assert (row.severity, row.violation_class, row.status, row.bbl) == (expected, severity, "open", "1007840015")


@pytest.mark.parametrize(
    ("code", "expected"),
    [("UB", "immediately_hazardous"), ("AEUHAZ1", "hazardous"), ("LL6291", "non_hazardous"), ("ZZZ9", "unknown")],
)
def test_dob_violation_type_codes_map_to_severity(code: str, expected: str) -> None:
    raw = {"isn_dob_bis_viol": "1", "boro": "1", "bin": "1009713", "block": "00577", "lot": "00019"}
    row = normalizer_for("dob_violations")(
        {**raw, "violation_type_code": code, "violation_category": "V-DOB VIOLATION - ACTIVE"}
    )
    assert (row.severity, row.status) == (expected, "open")


def test_dob_safety_status_words_map_to_open_or_closed() -> None:
    normalize = normalizer_for("dob_safety_violations")
    raw = {"violation_number": "V1", "bin": "3116942", "bbl": "3050910007", "violation_type": "LL6291"}
    assert normalize({**raw, "violation_status": "Active"}).status == "open"
    assert normalize({**raw, "violation_status": "Paid  - Pending Dismissal"}).status == "closed"


def test_duplicate_problem_flag_is_kept_as_is_duplicate() -> None:
    raw = {"problem_id": "1", "complaint_id": "2", "bbl": "1021800018", "problem_status": "OPEN"}
    row = normalizer_for("hpd_complaints")({**raw, "problem_duplicate_flag": "Y"})
    assert (row.is_duplicate, row.status, row.complaint_id) == (True, "open", "2")


def test_same_key_twice_in_a_page_keeps_one_row() -> None:
    batch = normalize_page("hpd_violations", [hpd_violation(), hpd_violation(violationstatus="Close")])
    (row,) = batch.rows_for("violations")
    assert row.status == "closed"
    assert batch.duplicates == 1


def test_registration_with_a_placeholder_bin_yields_no_building() -> None:
    raw = {"registrationid": "336228", "buildingid": "168059", "boroid": "3", "block": "6176", "lot": "29"}
    (registration,) = normalizer_for("hpd_registrations")({**raw, "bin": "3000000"})
    assert (registration.bin, registration.bbl) == (None, "3061760029")
    batch = normalize_page("hpd_registrations", [{**raw, "bin": "3000000"}])
    assert batch.rows_for("buildings") == []


def test_pluto_row_without_any_bbl_is_rejected() -> None:
    with pytest.raises(RejectRecord, match="no valid bbl"):
        normalizer_for("pluto")({"borough": "NOT NYC", "block": "0", "lot": "0"})


def test_contact_without_registration_is_rejected() -> None:
    with pytest.raises(RejectRecord, match="registrationid"):
        normalizer_for("hpd_registration_contacts")({"registrationcontactid": "33193103"})


def test_unknown_dataset_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="hpd_violations"):
        normalizer_for("oath_hearings")


def test_dob_publisher_test_row_is_rejected() -> None:
    raw = {"isn_dob_bis_viol": "1", "boro": "1", "bin": "1009713", "block": "99999", "lot": "99999"}
    with pytest.raises(RejectRecord, match="test record"):
        normalizer_for("dob_violations")({**raw, "house_number": "TEST", "street": "RECORD"})


def test_registrations_sharing_a_bin_are_not_counted_as_duplicates() -> None:
    raw = {"buildingid": "168059", "boroid": "3", "block": "6176", "lot": "29", "bin": "3157552"}
    batch = normalize_page("hpd_registrations", [{**raw, "registrationid": "1"}, {**raw, "registrationid": "2"}])
    assert (len(batch.rows_for("registrations")), len(batch.rows_for("buildings")), batch.duplicates) == (2, 1, 0)
