"""One address normalizer for ingestion, portfolio bulk-add and search; reject reasons that say what was missing."""

from __future__ import annotations

import pytest

from sentinel.address import address_key, normalize_street, parse_address
from sentinel.normalize import RejectRecord
from sentinel.normalize.hpd_violations import normalize as hpd_violation
from sentinel.normalize.service_requests_311 import normalize as request_311


@pytest.mark.parametrize(
    ("typed", "city_form"),
    [
        ("3 Clarence Ave", "3 CLARENCE AVENUE"),
        ("3 CLARENCE AVENUE", "3 CLARENCE AVENUE"),
        ("1155 EAST   35 STREET", "1155 EAST 35 STREET"),  # 311's padding
        ("517 W 142nd St.", "517 WEST 142 STREET"),
        ("10 Fifth Ave", "10 5 AVENUE"),  # PLUTO writes "5 AVENUE"
        ("31 - 15 Steinway St", "31-15 STEINWAY STREET"),  # Queens hyphenated house numbers
        ("12 St Marks Pl", "12 SAINT MARKS PLACE"),
        ("123 Queens Blvd", "123 QUEENS BOULEVARD"),
    ],
)
def test_addresses_meet_the_city_form(typed, city_form):
    assert address_key(typed) == city_form


def test_a_borough_after_the_street_is_read_and_removed():
    assert parse_address("3 Clarence Ave, Bronx, NY 10465") == parse_address("3 CLARENCE AVENUE", borough="2")
    assert parse_address("761 Clarence Avenue The Bronx").borough == 2
    assert parse_address("10 Staten Island Ave Staten Island").street == "STATEN ISLAND AVENUE"
    assert normalize_street("w 142nd st") == "WEST 142 STREET"
    assert address_key("CLARENCE AVENUE") is None  # a street alone is no lot


def test_a_311_request_without_bbl_keeps_its_address_and_point_and_one_with_a_bbl_says_source():
    row = request_311({"unique_key": "1", "agency": "HPD", "incident_address": "761 CLARENCE AVE",
                       "borough": "BRONX", "latitude": "40.8309", "longitude": "-73.8205"})  # fmt: skip
    assert (row.bbl, row.bbl_source, row.address_key, row.borough) == (None, None, "761 CLARENCE AVENUE", 2)
    assert (row.latitude, row.longitude) == (40.8309, -73.8205)
    with_bbl = request_311({"unique_key": "2", "agency": "DOB", "bbl": "2054800111", "borough": "BRONX"})
    assert (with_bbl.bbl, with_bbl.bbl_source) == ("2054800111", "source")
    point = request_311({"unique_key": "3", "agency": "HPD", "location": {"type": "Point",
                         "coordinates": [-73.8205, 40.8309]}})  # fmt: skip
    assert (point.latitude, point.longitude, point.address_key) == (40.8309, -73.8205, None)


def test_reject_reasons_say_exactly_what_was_missing():
    with pytest.raises(RejectRecord) as nothing:
        request_311({"unique_key": "4", "agency": "HPD", "borough": "Unspecified"})
    assert nothing.value.reason == "no usable location: no bbl, no incident_address, no latitude/longitude or location"
    with pytest.raises(RejectRecord) as abroad:
        request_311({"unique_key": "5", "agency": "HPD", "latitude": "51.5", "longitude": "-0.12"})
    assert abroad.value.reason.endswith("no incident_address, latitude: 51.5, -0.12 is outside New York City")
    with pytest.raises(RejectRecord) as no_borough:
        hpd_violation({"violationid": "1", "block": "5480", "lot": "111", "class": "B", "violationstatus": "Open"})
    assert (
        no_borough.value.reason == "no usable location: borough: missing, needed with block '5480' lot '111' for a bbl"
    )
    with pytest.raises(RejectRecord) as bad_borough:
        hpd_violation({"violationid": "1", "boroid": "9", "block": "5480", "lot": "111", "class": "B"})
    assert "borough: unrecognized '9'" in bad_borough.value.reason
