"""HPD Multiple Dwelling Registrations (tesw-yqqr) -> registrations, plus the building (BIN) it describes.

A registration names the HPD building id, the BIN and the lot, which makes it the crosswalk that DOB data
(BIN only) needs to reach a BBL. A registration with a placeholder BIN yields no building row.
"""

from __future__ import annotations

from typing import Any

from sentinel.dates import to_date
from sentinel.normalize.hashing import content_hash
from sentinel.normalize.location import resolve_location
from sentinel.normalize.outcome import RejectRecord
from sentinel.numbers import to_int
from sentinel.records import BuildingRow, RegistrationRow
from sentinel.text import clean, clean_spaces


def normalize(raw: dict[str, Any]) -> tuple[RegistrationRow] | tuple[RegistrationRow, BuildingRow]:
    warnings: list[str] = []
    g = raw.get
    registration_id = to_int(g("registrationid"), "registrationid", warnings)
    if registration_id is None:
        raise RejectRecord(f"missing or malformed registrationid {g('registrationid')!r}")
    bbl, bin_, borough = resolve_location(
        warnings, borough=g("boroid") or g("boro"), block=g("block"), lot=g("lot"), bin_=g("bin")
    )
    building_id = to_int(g("buildingid"), "buildingid", warnings)
    registration = RegistrationRow(
        registration_id=registration_id,
        hpd_building_id=building_id,
        bin=bin_,
        bbl=bbl,
        last_registration_date=to_date(g("lastregistrationdate"), "lastregistrationdate", warnings),
        registration_end_date=to_date(g("registrationenddate"), "registrationenddate", warnings),
        raw=raw,
        content_hash=content_hash(raw),
        warnings=warnings,
    )
    if bin_ is None:
        return (registration,)
    building = BuildingRow(
        bin=bin_,
        bbl=bbl,
        hpd_building_id=building_id,
        house_number=clean(g("housenumber")),
        street_name=clean_spaces(g("streetname")),
        zip=clean(g("zip")),
        borough=borough,
        warnings=[],
    )
    return (registration, building)
