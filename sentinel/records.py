"""Normalized rows, one dataclass per target table of migrations/0001_city_data.sql.

Each class has a `<TABLE>_COLUMNS` tuple next to it: the columns the ingester writes, in the order of
`copy_values()`, ready for `COPY <table> (<columns>) FROM STDIN`. Columns with database defaults that the
ingester does not own (id, is_deleted, deleted_at, first_seen_at, updated_at) are not in the tuples.
`raw` is kept as the record's dict; `copy_values()` serializes it to JSON text, which COPY accepts for jsonb.
`warnings` are field-level problems (a garbage date turned into None...): the row is still written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

import orjson

VIOLATION_COLUMNS = (
    "source", "source_id", "bbl", "bin", "borough", "class", "severity", "category", "description",
    "status", "status_raw", "issued_date", "status_date", "certify_by_date", "correct_by_date",
    "certified_date", "hearing_date", "penalty_imposed", "amount_paid", "balance_due",
    "source_updated_at", "raw", "content_hash",
)  # fmt: skip


def _json(raw: dict[str, Any]) -> str:
    return orjson.dumps(raw).decode()


@dataclass(slots=True)
class ViolationRow:
    table: ClassVar[str] = "violations"
    columns: ClassVar[tuple[str, ...]] = VIOLATION_COLUMNS
    key_columns: ClassVar[tuple[str, ...]] = ("source", "source_id")

    source: str  # HPD / DOB / DOB_SAFETY / ECB / HPD_VACATE
    source_id: str
    bbl: str | None
    bin: str | None
    borough: int | None
    # Column "class": the source's own class (HPD A/B/C/I, ECB severity, DOB violation type code).
    violation_class: str | None
    severity: str  # info / non_hazardous / hazardous / immediately_hazardous / unknown
    category: str | None
    description: str | None
    status: str  # open / closed
    status_raw: str | None
    issued_date: date | None
    status_date: date | None
    certify_by_date: date | None
    correct_by_date: date | None
    certified_date: date | None
    hearing_date: date | None
    penalty_imposed: Decimal | None
    amount_paid: Decimal | None
    balance_due: Decimal | None
    source_updated_at: datetime | None
    raw: dict[str, Any]
    content_hash: str
    warnings: list[str]

    @property
    def key(self) -> str:
        # Unique within one dataset (its source is fixed); the table's unique key is (source, source_id).
        return self.source_id

    def copy_values(self) -> tuple[Any, ...]:
        return (
            self.source, self.source_id, self.bbl, self.bin, self.borough, self.violation_class,
            self.severity, self.category, self.description, self.status, self.status_raw, self.issued_date,
            self.status_date, self.certify_by_date, self.correct_by_date, self.certified_date,
            self.hearing_date, self.penalty_imposed, self.amount_paid, self.balance_due,
            self.source_updated_at, _json(self.raw), self.content_hash,
        )  # fmt: skip


COMPLAINT_COLUMNS = (
    "source", "source_id", "complaint_id", "bbl", "bin", "borough", "category", "subcategory", "priority",
    "status", "status_raw", "received_date", "status_date", "closed_date", "is_duplicate",
    "source_updated_at", "raw", "content_hash",
)  # fmt: skip


@dataclass(slots=True)
class ComplaintRow:
    table: ClassVar[str] = "complaints"
    columns: ClassVar[tuple[str, ...]] = COMPLAINT_COLUMNS
    key_columns: ClassVar[tuple[str, ...]] = ("source", "source_id")

    source: str  # HPD / DOB / 311
    source_id: str
    complaint_id: str | None
    bbl: str | None
    bin: str | None
    borough: int | None
    category: str | None
    subcategory: str | None
    priority: str | None
    status: str  # open / closed
    status_raw: str | None
    received_date: date | None
    status_date: date | None
    closed_date: date | None
    is_duplicate: bool
    source_updated_at: datetime | None
    raw: dict[str, Any]
    content_hash: str
    warnings: list[str]

    @property
    def key(self) -> str:
        # Unique within one dataset (its source is fixed); the table's unique key is (source, source_id).
        return self.source_id

    def copy_values(self) -> tuple[Any, ...]:
        return (
            self.source, self.source_id, self.complaint_id, self.bbl, self.bin, self.borough, self.category,
            self.subcategory, self.priority, self.status, self.status_raw, self.received_date,
            self.status_date, self.closed_date, self.is_duplicate, self.source_updated_at, _json(self.raw),
            self.content_hash,
        )  # fmt: skip


PROPERTY_COLUMNS = (
    "bbl", "borough", "block", "lot", "address", "zip", "units_res", "units_total", "num_floors",
    "num_buildings", "year_built", "bldg_class", "land_use", "owner_type", "owner_name", "latitude",
    "longitude", "pluto_version", "raw", "content_hash",
)  # fmt: skip


@dataclass(slots=True)
class PropertyRow:
    table: ClassVar[str] = "properties"
    columns: ClassVar[tuple[str, ...]] = PROPERTY_COLUMNS
    key_columns: ClassVar[tuple[str, ...]] = ("bbl",)

    bbl: str
    borough: int
    block: int
    lot: int
    address: str | None
    zip: str | None
    units_res: int | None
    units_total: int | None
    num_floors: Decimal | None
    num_buildings: int | None
    year_built: int | None
    bldg_class: str | None
    land_use: str | None
    owner_type: str | None
    owner_name: str | None
    latitude: float | None
    longitude: float | None
    pluto_version: str | None
    raw: dict[str, Any]
    content_hash: str
    warnings: list[str]

    @property
    def key(self) -> str:
        return self.bbl

    def copy_values(self) -> tuple[Any, ...]:
        return (
            self.bbl, self.borough, self.block, self.lot, self.address, self.zip, self.units_res,
            self.units_total, self.num_floors, self.num_buildings, self.year_built, self.bldg_class,
            self.land_use, self.owner_type, self.owner_name, self.latitude, self.longitude,
            self.pluto_version, _json(self.raw), self.content_hash,
        )  # fmt: skip


BUILDING_COLUMNS = ("bin", "bbl", "hpd_building_id", "house_number", "street_name", "zip", "borough")


@dataclass(slots=True)
class BuildingRow:
    """A BIN as some dataset describes it. No raw/hash: the table is a crosswalk (BIN -> BBL, HPD id)."""

    table: ClassVar[str] = "buildings"
    columns: ClassVar[tuple[str, ...]] = BUILDING_COLUMNS
    key_columns: ClassVar[tuple[str, ...]] = ("bin",)

    bin: str
    bbl: str | None
    hpd_building_id: int | None
    house_number: str | None
    street_name: str | None
    zip: str | None
    borough: int | None
    warnings: list[str]

    @property
    def key(self) -> str:
        return self.bin

    def copy_values(self) -> tuple[Any, ...]:
        return (
            self.bin, self.bbl, self.hpd_building_id, self.house_number, self.street_name, self.zip,
            self.borough,
        )  # fmt: skip


REGISTRATION_COLUMNS = (
    "registration_id", "hpd_building_id", "bin", "bbl", "last_registration_date", "registration_end_date",
    "raw", "content_hash",
)  # fmt: skip


@dataclass(slots=True)
class RegistrationRow:
    table: ClassVar[str] = "registrations"
    columns: ClassVar[tuple[str, ...]] = REGISTRATION_COLUMNS
    key_columns: ClassVar[tuple[str, ...]] = ("registration_id",)

    registration_id: int
    hpd_building_id: int | None
    bin: str | None
    bbl: str | None
    last_registration_date: date | None
    registration_end_date: date | None
    raw: dict[str, Any]
    content_hash: str
    warnings: list[str]

    @property
    def key(self) -> int:
        return self.registration_id

    def copy_values(self) -> tuple[Any, ...]:
        return (
            self.registration_id, self.hpd_building_id, self.bin, self.bbl, self.last_registration_date,
            self.registration_end_date, _json(self.raw), self.content_hash,
        )  # fmt: skip


CONTACT_COLUMNS = (
    "contact_id", "registration_id", "contact_type", "ownership_form", "corporation_name", "first_name",
    "last_name", "business_address", "raw", "content_hash",
)  # fmt: skip


@dataclass(slots=True)
class ContactRow:
    table: ClassVar[str] = "registration_contacts"
    columns: ClassVar[tuple[str, ...]] = CONTACT_COLUMNS
    key_columns: ClassVar[tuple[str, ...]] = ("contact_id",)

    contact_id: int
    registration_id: int
    contact_type: str | None
    ownership_form: str | None
    corporation_name: str | None
    first_name: str | None
    last_name: str | None
    business_address: str | None
    raw: dict[str, Any]
    content_hash: str
    warnings: list[str]

    @property
    def key(self) -> int:
        return self.contact_id

    def copy_values(self) -> tuple[Any, ...]:
        return (
            self.contact_id, self.registration_id, self.contact_type, self.ownership_form,
            self.corporation_name, self.first_name, self.last_name, self.business_address, _json(self.raw),
            self.content_hash,
        )  # fmt: skip


Row = ViolationRow | ComplaintRow | PropertyRow | BuildingRow | RegistrationRow | ContactRow
# What one raw record normalizes to: usually one row; a registration also yields its building.
NormalizedRecord = Row | tuple[Row, ...]

ROW_TYPES: dict[str, type[Row]] = {
    cls.table: cls for cls in (ViolationRow, ComplaintRow, PropertyRow, BuildingRow, RegistrationRow, ContactRow)
}
