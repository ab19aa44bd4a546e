"""One pure function per condition type: (condition, event, clock) -> the matches it produces.

Titles and summaries are ASCII on purpose: a single non-GSM character turns an SMS into UCS-2 and halves its
length. A match carries its record as JSON-ready values because it goes straight into alerts.payload (jsonb).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sentinel.alerts import keys
from sentinel.alerts.conditions import (
    DeadlineApproaching,
    DeadlineOverdue,
    NewComplaint,
    NewViolation,
    PenaltyBalanceAbove,
    RiskScoreChange,
    SourceStale,
    ViolationStatusChange,
)
from sentinel.alerts.events import (
    BuildingBalance,
    ComplaintChange,
    DatasetFreshness,
    OpenViolation,
    ScoreChange,
    ViolationChange,
)
from sentinel.deadlines import days_left, days_overdue, is_overdue


@dataclass(frozen=True, slots=True)
class Clock:
    """The evaluation instant, and today's date in the city (deadlines are New York dates: sentinel.deadlines)."""

    now: datetime
    today: date


@dataclass(frozen=True, slots=True)
class Match:
    bbl: str
    trigger_key: str
    event_type: str  # the webhook event name, e.g. "violation.new"
    title: str
    summary: str
    address: str | None


def where(bbl: str, address: str | None) -> str:
    return f"{address} (BBL {bbl})" if address else f"BBL {bbl}"


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def record_of(event: Any) -> dict[str, Any]:
    """The event as JSON-ready values (dates ISO, money as strings so cents survive)."""
    names = _FIELD_NAMES.get(type(event))
    if names is None:
        # Where and when it was ingested is bookkeeping, not part of what the alert reports.
        names = _FIELD_NAMES[type(event)] = tuple(
            f.name for f in fields(event) if f.name not in ("address", "first_seen_at")
        )
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(event, name)
        if value is None:
            continue
        if isinstance(value, date):  # datetime is a date too
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = format(value, "f")
        elif isinstance(value, timedelta):
            value = value.total_seconds()
        out[name] = value
    return out


def violation_label(v: ViolationChange | OpenViolation) -> str:
    if v.violation_class and v.source.startswith("HPD"):
        return f"{v.source} Class {v.violation_class} violation"
    if v.severity not in ("unknown", "info"):
        return f"{v.source} {v.severity.replace('_', ' ')} violation"
    return f"{v.source} violation"


def _deadline_phrase(v: ViolationChange | OpenViolation) -> str:
    if v.certify_by_date:
        return f", certify by {v.certify_by_date.isoformat()}"
    if v.correct_by_date:
        return f", correct by {v.correct_by_date.isoformat()}"
    if v.hearing_date:
        return f", hearing {v.hearing_date.isoformat()}"
    return ""


def _match(event: Any, key: str, event_type: str, title: str, summary: str) -> Match:
    bbl = getattr(event, "bbl", keys.ORG_WIDE_BBL)
    address = getattr(event, "address", None)
    return Match(bbl, key, event_type, f"{title} at {where(bbl, address)}", summary, address)


def new_violation(cond: NewViolation, v: ViolationChange, clock: Clock) -> list[Match]:
    if not v.is_new or v.new_status != "open" or not cond.accepts(v):
        return []
    label = violation_label(v)
    summary = f"New {label}: {v.description or 'no description'}{_deadline_phrase(v)}"
    return [_match(v, keys.violation_new(v.source, v.source_id), "violation.new", f"New {label}", summary)]


def violation_status_change(cond: ViolationStatusChange, v: ViolationChange, clock: Clock) -> list[Match]:
    if v.is_new or not cond.accepts(v):
        return []
    matches: list[Match] = []
    label = f"{violation_label(v)} {v.source_id}"
    on = v.status_date or (v.observed_at.date() if v.observed_at else None)
    if "closed" in cond.transitions and v.old_status == "open" and v.new_status == "closed":
        key = keys.violation_transition(v.source, v.source_id, "closed", on)
        matches.append(_match(v, key, "violation.closed", f"{label} closed", f"{label} was closed"))
    if "reopened" in cond.transitions and v.old_status == "closed" and v.new_status == "open":
        key = keys.violation_transition(v.source, v.source_id, "reopened", on)
        matches.append(_match(v, key, "violation.reopened", f"{label} reopened", f"{label} was reopened"))
    certified, due = v.certified_date, v.certify_by_date
    # Only the run that first sees the certification fires, not every later change of the row.
    newly_certified = v.old_certified_date is None and "certified_late" in cond.transitions
    if newly_certified and certified is not None and due is not None and certified > due:
        key = keys.violation_transition(v.source, v.source_id, "certified_late", certified)
        summary = (
            f"{label} was certified on {certified.isoformat()}, {(certified - due).days} days after "
            f"its certify-by date {due.isoformat()}"
        )
        matches.append(_match(v, key, "violation.certified_late", f"{label} certified late", summary))
    return matches


_DEADLINE_FIELD = {
    "certify_by": "certify_by_date",
    "correct_by": "correct_by_date",
    "hearing": "hearing_date",
}
_DEADLINE_WORDS = {"certify_by": "certify-by date", "correct_by": "correct-by date", "hearing": "hearing"}


def deadline_approaching(cond: DeadlineApproaching, v: OpenViolation, clock: Clock) -> list[Match]:
    if not cond.accepts(v):
        return []
    matches: list[Match] = []
    for kind in sorted(cond.deadlines):
        due: date | None = getattr(v, _DEADLINE_FIELD[kind])
        if due is None or (kind != "hearing" and v.certified_date is not None):
            continue
        days = days_left(due, clock.today)
        if not 0 <= days <= cond.within_days:
            continue
        when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        label = f"{violation_label(v)} {v.source_id}"
        summary = f"{label}: {_DEADLINE_WORDS[kind]} {due.isoformat()} ({when}): {v.description or ''}".rstrip(": ")
        key = keys.deadline(v.source, v.source_id, kind, due)
        matches.append(_match(v, key, f"deadline.{kind}", f"{_DEADLINE_WORDS[kind].capitalize()} {when}", summary))
    return matches


def deadline_overdue(cond: DeadlineOverdue, v: OpenViolation, clock: Clock) -> list[Match]:
    if not cond.accepts(v) or v.certified_date is not None:
        return []
    matches: list[Match] = []
    for kind in sorted(cond.deadlines):
        due: date | None = getattr(v, _DEADLINE_FIELD[kind])
        if due is None:
            continue
        if not is_overdue(due, clock.today, cond.grace_days):
            continue
        days_late = days_overdue(due, clock.today)
        label = f"{violation_label(v)} {v.source_id}"
        summary = f"{label} is {days_late} days past its {_DEADLINE_WORDS[kind]} ({due.isoformat()})"
        key = keys.overdue(v.source, v.source_id, kind, due)
        matches.append(_match(v, key, "deadline.overdue", f"{label} overdue", summary))
    return matches


def new_complaint(cond: NewComplaint, c: ComplaintChange, clock: Clock) -> list[Match]:
    if not c.is_new or not cond.accepts(c):
        return []
    what = " / ".join(part for part in (c.category, c.subcategory) if part) or "complaint"
    title = f"New {c.source} {c.category or ''} complaint".replace("  ", " ")
    summary = f"New {c.source} complaint {c.source_id}: {what}"
    if c.received_date:
        summary += f", received {c.received_date.isoformat()}"
    return [_match(c, keys.complaint_new(c.source, c.source_id), "complaint.new", title, summary)]


def penalty_balance_above(cond: PenaltyBalanceAbove, b: BuildingBalance, clock: Clock) -> list[Match]:
    # Fires on the upward crossing only: a balance that stays high is one alert, not one per scan.
    was_above = b.previous_balance_due is not None and b.previous_balance_due > cond.amount
    if was_above or b.balance_due <= cond.amount:
        return []
    summary = f"Unpaid penalties are ${b.balance_due:,.2f}, above the ${cond.amount:,.2f} threshold"
    key = keys.balance_above(b.bbl, cond.amount, b.as_of)
    return [_match(b, key, "balance.above", f"Penalty balance above ${cond.amount:,.2f}", summary)]


def risk_score(cond: RiskScoreChange, s: ScoreChange, clock: Clock) -> list[Match]:
    if s.score_kind != cond.score:
        return []
    matches: list[Match] = []
    name = s.score_kind.capitalize()
    threshold = cond.crosses_above
    if threshold is not None and s.new_score >= threshold and (s.old_score is None or s.old_score < threshold):
        summary = f"{name} risk score is {s.new_score}" + (f" (was {s.old_score})" if s.old_score is not None else "")
        key = keys.risk_above(s.bbl, s.score_kind, threshold, s.as_of)
        matches.append(_match(s, key, "risk.above", f"{name} risk score reached {threshold}+", summary))
    if cond.jumps_by is not None and s.old_score is not None and s.new_score - s.old_score >= cond.jumps_by:
        jump = s.new_score - s.old_score
        summary = f"{name} risk score rose {jump} points, from {s.old_score} to {s.new_score}"
        key = keys.risk_jump(s.bbl, s.score_kind, s.as_of)
        matches.append(_match(s, key, "risk.jump", f"{name} risk score up {jump} points", summary))
    return matches


def source_stale(cond: SourceStale, d: DatasetFreshness, clock: Clock) -> list[Match]:
    if cond.datasets and d.dataset not in cond.datasets:
        return []
    age = clock.now - d.last_updated_at
    if age <= d.expected_every + timedelta(hours=cond.grace_hours):
        return []
    hours = age.total_seconds() / 3600
    expected = d.expected_every.total_seconds() / 3600
    summary = (
        f"{d.dataset} last delivered data at {d.last_updated_at.isoformat()} ({hours:.0f} h ago); "
        f"it is expected every {expected:g} h"
    )
    title = f"Source data is stale: {d.dataset}"
    key = keys.stale(d.dataset, d.last_updated_at)
    return [Match(keys.ORG_WIDE_BBL, key, "source.stale", title, summary, None)]


Matcher = Callable[[Any, Any, Clock], list[Match]]

MATCHERS: dict[str, Matcher] = {
    "new_violation": new_violation,
    "violation_status_change": violation_status_change,
    "deadline_approaching": deadline_approaching,
    "deadline_overdue": deadline_overdue,
    "new_complaint": new_complaint,
    "penalty_balance_above": penalty_balance_above,
    "risk_score": risk_score,
    "source_stale": source_stale,
}
