"""Rule conditions: what a rule watches for. Stored as `alert_rules.condition` (jsonb), told apart by `type`.

Filters that are empty mean "any". Text filters are case-insensitive substrings because the sources spell the
same thing several ways ("HEAT/HOT WATER" since 2014, "HEATING" before; 311 and HPD differ again).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sentinel.alerts.events import ComplaintChange, OpenViolation, ScoreKind, Severity, ViolationChange

ViolationLike = ViolationChange | OpenViolation


class _Condition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _upper(values: frozenset[str]) -> frozenset[str]:
    return frozenset(value.strip().upper() for value in values if value.strip())


def _contains_any(needles: frozenset[str], *haystacks: str | None) -> bool:
    text = " ".join(h for h in haystacks if h).upper()
    return any(needle in text for needle in needles)


class _ViolationFilter(_Condition):
    sources: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    severities: frozenset[Severity] = frozenset()
    categories: frozenset[str] = frozenset()

    normalize_filters = field_validator("sources", "classes", "categories")(_upper)

    def accepts(self, v: ViolationLike) -> bool:
        if self.sources and v.source.upper() not in self.sources:
            return False
        if self.classes and (v.violation_class or "").upper() not in self.classes:
            return False
        if self.severities and v.severity not in self.severities:
            return False
        return not self.categories or _contains_any(self.categories, v.category, v.description)


class NewViolation(_ViolationFilter):
    type: Literal["new_violation"] = "new_violation"


Transition = Literal["closed", "reopened", "certified_late"]


class ViolationStatusChange(_ViolationFilter):
    type: Literal["violation_status_change"] = "violation_status_change"
    transitions: frozenset[Transition] = frozenset({"closed", "reopened", "certified_late"})


DeadlineKind = Literal["certify_by", "correct_by", "hearing"]


class DeadlineApproaching(_ViolationFilter):
    type: Literal["deadline_approaching"] = "deadline_approaching"
    deadlines: frozenset[DeadlineKind] = frozenset({"certify_by", "correct_by", "hearing"})
    within_days: int = Field(default=7, ge=0, le=366)


class DeadlineOverdue(_ViolationFilter):
    """An open violation past its certify-by / correct-by date (a hearing date that passes is not "overdue")."""

    type: Literal["deadline_overdue"] = "deadline_overdue"
    deadlines: frozenset[Literal["certify_by", "correct_by"]] = frozenset({"certify_by", "correct_by"})
    grace_days: int = Field(default=0, ge=0, le=366)


class NewComplaint(_Condition):
    type: Literal["new_complaint"] = "new_complaint"
    sources: frozenset[str] = frozenset()
    complaint_types: frozenset[str] = frozenset()  # e.g. {"HEAT", "HOT WATER"}

    normalize_filters = field_validator("sources", "complaint_types")(_upper)

    def accepts(self, c: ComplaintChange) -> bool:
        if self.sources and c.source.upper() not in self.sources:
            return False
        return not self.complaint_types or _contains_any(self.complaint_types, c.category, c.subcategory)


class PenaltyBalanceAbove(_Condition):
    type: Literal["penalty_balance_above"] = "penalty_balance_above"
    amount: Decimal = Field(gt=0)


class RiskScoreChange(_Condition):
    """Fires when the score rises across `crosses_above` or rises by at least `jumps_by` points in one run."""

    type: Literal["risk_score"] = "risk_score"
    score: ScoreKind = "overall"
    crosses_above: int | None = Field(default=None, ge=1, le=100)
    jumps_by: int | None = Field(default=None, ge=1, le=100)

    @model_validator(mode="after")
    def _needs_a_trigger(self) -> RiskScoreChange:
        if self.crosses_above is None and self.jumps_by is None:
            raise ValueError("risk_score needs crosses_above, jumps_by or both")
        return self


class SourceStale(_Condition):
    """A dataset has not delivered for longer than its expected cadence plus `grace_hours`."""

    type: Literal["source_stale"] = "source_stale"
    datasets: frozenset[str] = frozenset()
    grace_hours: float = Field(default=6.0, ge=0)


Condition = Annotated[
    NewViolation
    | ViolationStatusChange
    | DeadlineApproaching
    | DeadlineOverdue
    | NewComplaint
    | PenaltyBalanceAbove
    | RiskScoreChange
    | SourceStale,
    Field(discriminator="type"),
]

# The event type each condition is evaluated against; the rule index is keyed by it.
EVENT_KIND: dict[str, str] = {
    "new_violation": ViolationChange.kind,
    "violation_status_change": ViolationChange.kind,
    "deadline_approaching": OpenViolation.kind,
    "deadline_overdue": OpenViolation.kind,
    "new_complaint": ComplaintChange.kind,
    "penalty_balance_above": "building_balance",
    "risk_score": "score_change",
    "source_stale": "dataset_freshness",
}
