"""What rules are evaluated against: the changes the ingester and the scorer emit, and the snapshots the
scheduler takes for time-based checks. Plain frozen dataclasses: cheap to build by the hundred thousand,
and free of any database or Ray type, so the engine, the API dry-run and tests all build them the same way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import ClassVar, Literal

Status = Literal["open", "closed"]
Severity = Literal["info", "non_hazardous", "hazardous", "immediately_hazardous", "unknown"]
ScoreKind = Literal["overall", "safety", "legal", "financial"]


@dataclass(frozen=True, slots=True)
class ViolationChange:
    """A violation row the ingester inserted (`old_status is None`) or whose status/certification changed."""

    kind: ClassVar[str] = "violation_change"

    source: str  # HPD, DOB, DOB_SAFETY, ECB, HPD_VACATE
    source_id: str
    bbl: str
    new_status: Status
    old_status: Status | None = None
    violation_class: str | None = None  # the source's own class: HPD A/B/C/I, ECB severity, DOB type code
    severity: Severity = "unknown"
    category: str | None = None
    description: str | None = None
    issued_date: date | None = None
    status_date: date | None = None
    certify_by_date: date | None = None
    correct_by_date: date | None = None
    hearing_date: date | None = None
    certified_date: date | None = None
    old_certified_date: date | None = None
    balance_due: Decimal | None = None
    address: str | None = None
    observed_at: datetime | None = None  # when the change was seen (the ingestion's write)
    first_seen_at: datetime | None = None  # when the record itself was first ingested

    @property
    def is_new(self) -> bool:
        return self.old_status is None


@dataclass(frozen=True, slots=True)
class ComplaintChange:
    """A complaint the ingester inserted (`old_status is None`) or whose status changed."""

    kind: ClassVar[str] = "complaint_change"

    source: str  # HPD, DOB, 311
    source_id: str
    bbl: str
    new_status: Status
    old_status: Status | None = None
    category: str | None = None  # HPD major category / 311 complaint type, e.g. HEAT/HOT WATER
    subcategory: str | None = None  # minor category / descriptor, e.g. ENTIRE BUILDING
    priority: str | None = None
    received_date: date | None = None
    status_date: date | None = None
    address: str | None = None
    observed_at: datetime | None = None
    first_seen_at: datetime | None = None

    @property
    def is_new(self) -> bool:
        return self.old_status is None


@dataclass(frozen=True, slots=True)
class OpenViolation:
    """An open violation with its deadlines, as the scheduled scan reads it (for approaching / overdue)."""

    kind: ClassVar[str] = "open_violation"

    source: str
    source_id: str
    bbl: str
    violation_class: str | None = None
    severity: Severity = "unknown"
    category: str | None = None
    description: str | None = None
    certify_by_date: date | None = None
    correct_by_date: date | None = None
    hearing_date: date | None = None
    certified_date: date | None = None
    address: str | None = None
    first_seen_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BuildingBalance:
    """A building's unpaid penalties now and at the previous scan (None: first scan)."""

    kind: ClassVar[str] = "building_balance"

    bbl: str
    balance_due: Decimal
    as_of: date
    previous_balance_due: Decimal | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True)
class ScoreChange:
    """One of a building's scores in a new scoring run, with the previous run's value (None: first score)."""

    kind: ClassVar[str] = "score_change"

    bbl: str
    score_kind: ScoreKind
    new_score: int
    as_of: date
    old_score: int | None = None
    address: str | None = None
    computed_at: datetime | None = None  # when the new score was stored


@dataclass(frozen=True, slots=True)
class DatasetFreshness:
    """When a source dataset last delivered new data, and how often it is expected to."""

    kind: ClassVar[str] = "dataset_freshness"

    dataset: str
    last_updated_at: datetime
    expected_every: timedelta


Event = ViolationChange | ComplaintChange | OpenViolation | BuildingBalance | ScoreChange | DatasetFreshness
