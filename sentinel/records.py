"""Normalized rows, one dataclass per target table of migrations/0001_city_data.sql.

Each class has a `<TABLE>_COLUMNS` tuple next to it: the columns the ingester writes, in the order of
`copy_values()`, ready for `COPY <table> (<columns>) FROM STDIN`. A column holds the row's attribute of the same
name (`class` is `violation_class`: a Python keyword), except `raw`, the record's dict, which is written as its
JSON text; `raw` comes last, so a COPY line can end with the JSON bytes as orjson made them. A violation or a
complaint keeps its record apart instead, with its page's records (`source_page`, `source_line`:
sentinel/source_pages.py). Columns with
database defaults that the ingester does not own (id, is_deleted, deleted_at, first_seen_at, updated_at) are
not in the tuples. `warnings` are field-level problems (a garbage date turned into None...): the row is still
written.

These classes are the declaration of what the ingester writes (columns, types, nullability, key); the migrated
tables must hold it, which tests/foundation/test_dataset_declarations.py checks against information_schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

import orjson

from sentinel.quality import quality_json

VIOLATION_COLUMNS = (
    "source", "source_id", "bbl", "bin", "borough", "class", "severity", "category", "description",
    "status", "status_raw", "issued_date", "status_date", "certify_by_date", "correct_by_date",
    "certified_date", "hearing_date", "penalty_imposed", "amount_paid", "balance_due",
    "source_updated_at", "content_hash", "quality", "source_page", "source_line",
)  # fmt: skip


class _Quality:
    """`quality`: the row's field problems as JSON text (sentinel/quality.py), NULL for a clean row."""

    __slots__ = ()
    warnings: list[str]
    raw: dict[str, Any]

    @property
    def quality(self) -> str | None:
        return quality_json(self.warnings, self.raw) if self.warnings else None


@dataclass(slots=True)
class ViolationRow(_Quality):
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
    # Dates and amounts only some sources have: a normalizer whose source has none leaves them out.
    status_date: date | None = field(default=None, kw_only=True)
    certify_by_date: date | None = field(default=None, kw_only=True)
    correct_by_date: date | None = field(default=None, kw_only=True)
    certified_date: date | None = field(default=None, kw_only=True)
    hearing_date: date | None = field(default=None, kw_only=True)
    penalty_imposed: Decimal | None = field(default=None, kw_only=True)
    amount_paid: Decimal | None = field(default=None, kw_only=True)
    balance_due: Decimal | None = field(default=None, kw_only=True)
    source_updated_at: datetime | None
    raw: dict[str, Any]
    content_hash: str
    warnings: list[str]
    # Where the record is kept: given when the row's page is encoded (sentinel/source_pages.py).
    source_page: str | None = field(default=None, kw_only=True)
    source_line: int | None = field(default=None, kw_only=True)
    # The record's JSON as the source sent it, when its page gave it a line of its own: what the page keeps.
    source_text: bytes | None = field(default=None, kw_only=True, repr=False, compare=False)

    @property
    def key(self) -> str:
        # Unique within one dataset (its source is fixed); the table's unique key is (source, source_id).
        return self.source_id


COMPLAINT_COLUMNS = (
    "source", "source_id", "complaint_id", "bbl", "bin", "borough", "category", "subcategory", "priority",
    "status", "status_raw", "received_date", "status_date", "closed_date", "is_duplicate",
    "source_updated_at", "content_hash", "address_key", "latitude", "longitude", "bbl_source", "quality",
    "source_page", "source_line",
)  # fmt: skip


@dataclass(slots=True)
class ComplaintRow(_Quality):
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
    # Where a record without a usable BBL is (311): resolved against PLUTO lots by the writer (sentinel/ingest/
    # locate.py), which then records how in `bbl_source`.
    address_key: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    # Where the record is kept: given when the row's page is encoded (sentinel/source_pages.py).
    source_page: str | None = None
    source_line: int | None = None
    # The record's JSON as the source sent it, when its page gave it a line of its own: what the page keeps.
    source_text: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def bbl_source(self) -> str | None:
        return "source" if self.bbl is not None else None

    @property
    def key(self) -> str:
        # Unique within one dataset (its source is fixed); the table's unique key is (source, source_id).
        return self.source_id


PROPERTY_COLUMNS = (
    "bbl", "borough", "block", "lot", "address", "zip", "units_res", "units_total", "num_floors",
    "num_buildings", "year_built", "bldg_class", "land_use", "owner_type", "owner_name", "latitude",
    "longitude", "pluto_version", "content_hash", "address_key", "quality", "raw",
)  # fmt: skip


@dataclass(slots=True)
class PropertyRow(_Quality):
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
    address_key: str | None = None  # sentinel/address.py's key of `address`

    @property
    def key(self) -> str:
        return self.bbl


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


REGISTRATION_COLUMNS = (
    "registration_id", "hpd_building_id", "bin", "bbl", "last_registration_date", "registration_end_date",
    "content_hash", "raw",
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


CONTACT_COLUMNS = (
    "contact_id", "registration_id", "contact_type", "ownership_form", "corporation_name", "first_name",
    "last_name", "business_address", "content_hash", "raw",
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


Row = ViolationRow | ComplaintRow | PropertyRow | BuildingRow | RegistrationRow | ContactRow
# What one raw record normalizes to: usually one row; a registration also yields its building.
NormalizedRecord = Row | tuple[Row, ...]

ROW_TYPES: dict[str, type[Row]] = {
    cls.table: cls for cls in (ViolationRow, ComplaintRow, PropertyRow, BuildingRow, RegistrationRow, ContactRow)
}
# Rows that keep their source record apart, in a page of records (sentinel/source_pages.py).
RECORD_KEEPING_ROWS: tuple[type[ViolationRow] | type[ComplaintRow], ...] = (ViolationRow, ComplaintRow)

# The attribute behind a column, where the two names differ.
ATTRIBUTE_OF_COLUMN = {"class": "violation_class"}


def column_attribute(column: str) -> str:
    return ATTRIBUTE_OF_COLUMN.get(column, column)


def copy_values(row: Row) -> tuple[Any, ...]:
    """The row's values in the order of its `columns`, `raw` as JSON text (which COPY accepts for json)."""
    values = [getattr(row, column_attribute(column)) for column in row.columns]
    if row.columns[-1] == "raw":
        values[-1] = orjson.dumps(values[-1]).decode()
    return tuple(values)
