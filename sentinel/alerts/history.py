"""Events rebuilt from the stored records, for everything that is not "what ingestion run R changed":
evaluate-now (what was ingested in a time window), the baseline of a new rule or building (what is open now),
the scheduled deadline scans (open violations with deadlines), the scores stored since a scoring began, and the
dry-run (what happened, by the records' own dates). One place builds every event from a row, so the engine and
the dry-run read records the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import psycopg

from sentinel.alerts.events import (
    ComplaintChange,
    Event,
    OpenViolation,
    ScoreChange,
    ViolationChange,
)
from sentinel.db.rows import all_dicts
from sentinel.deadlines import city_midnight, city_today

_V = (
    "v.source, v.source_id, v.bbl, v.status, v.class, v.severity, v.category, v.description, v.issued_date,"
    " v.status_date, v.certify_by_date, v.correct_by_date, v.hearing_date, v.certified_date, v.balance_due,"
    " v.first_seen_at, p.address"
)
_C = (
    "c.source, c.source_id, c.bbl, c.status, c.category, c.subcategory, c.priority, c.received_date,"
    " c.status_date, c.first_seen_at, p.address"
)


def violation_change(
    r: Mapping[str, Any], *, old_status: str | None = None, new_status: str | None = None,
    observed_at: datetime | None = None, first_seen: bool = True,
) -> ViolationChange:  # fmt: skip
    """A violation row as a change; `first_seen=False` leaves out when it was ingested (the dry-run's events
    carry the record's own dates only)."""
    return ViolationChange(
        source=r["source"], source_id=r["source_id"], bbl=r["bbl"].strip(), new_status=new_status or r["status"],
        old_status=old_status, violation_class=r["class"], severity=r["severity"], category=r["category"],
        description=r["description"], issued_date=r["issued_date"], status_date=r["status_date"],
        certify_by_date=r["certify_by_date"], correct_by_date=r["correct_by_date"], hearing_date=r["hearing_date"],
        certified_date=r["certified_date"], balance_due=r["balance_due"], address=r["address"],
        observed_at=observed_at, first_seen_at=r["first_seen_at"] if first_seen else None,
    )  # fmt: skip


def complaint_change(
    r: Mapping[str, Any], *, old_status: str | None = None, new_status: str | None = None,
    observed_at: datetime | None = None, first_seen: bool = True,
) -> ComplaintChange:  # fmt: skip
    return ComplaintChange(
        source=r["source"], source_id=r["source_id"], bbl=r["bbl"].strip(), new_status=new_status or r["status"],
        old_status=old_status, category=r["category"], subcategory=r["subcategory"], priority=r["priority"],
        received_date=r["received_date"], status_date=r["status_date"], address=r["address"],
        observed_at=observed_at, first_seen_at=r["first_seen_at"] if first_seen else None,
    )  # fmt: skip


def open_violation(r: Mapping[str, Any], *, first_seen: bool = True) -> OpenViolation:
    return OpenViolation(
        source=r["source"], source_id=r["source_id"], bbl=r["bbl"].strip(), violation_class=r["class"],
        severity=r["severity"], category=r["category"], description=r["description"],
        certify_by_date=r["certify_by_date"], correct_by_date=r["correct_by_date"], hearing_date=r["hearing_date"],
        certified_date=r["certified_date"], address=r["address"],
        first_seen_at=r["first_seen_at"] if first_seen else None,
    )  # fmt: skip


_OPEN_WITH_DEADLINE = f"""
    SELECT {_V} FROM violations v LEFT JOIN properties p ON p.bbl = v.bbl
    WHERE v.bbl = ANY(%s::bpchar[]) AND v.status = 'open' AND NOT v.is_deleted
      AND (v.certify_by_date IS NOT NULL OR v.correct_by_date IS NOT NULL OR v.hearing_date IS NOT NULL)
    ORDER BY v.id
"""  # noqa: S608 -- constant column list


def open_violations(conn: psycopg.Connection, bbls: Sequence[str], *, first_seen: bool = True) -> list[OpenViolation]:
    """Open violations with a deadline at the given buildings (the deadline scans' input)."""
    if not bbls:
        return []
    return [open_violation(r, first_seen=first_seen) for r in all_dicts(conn, _OPEN_WITH_DEADLINE, (list(bbls),))]


_OPEN_VIOLATIONS = f"""
    SELECT {_V} FROM violations v LEFT JOIN properties p ON p.bbl = v.bbl
    WHERE v.bbl = ANY(%s::bpchar[]) AND v.status = 'open' AND NOT v.is_deleted ORDER BY v.id
"""  # noqa: S608 -- constant column list
_OPEN_COMPLAINTS = f"""
    SELECT {_C} FROM complaints c LEFT JOIN properties p ON p.bbl = c.bbl
    WHERE c.bbl = ANY(%s::bpchar[]) AND c.status = 'open' AND NOT c.is_deleted AND NOT c.is_duplicate ORDER BY c.id
"""  # noqa: S608 -- constant column list


def open_records(conn: psycopg.Connection, kind: str, bbls: Sequence[str]) -> list[Event]:
    """What is open now at `bbls`, each as if it had just arrived (a new rule's or building's baseline)."""
    if not bbls:
        return []
    if kind == ViolationChange.kind:
        return [violation_change(r) for r in all_dicts(conn, _OPEN_VIOLATIONS, (list(bbls),))]
    if kind == ComplaintChange.kind:
        return [complaint_change(r) for r in all_dicts(conn, _OPEN_COMPLAINTS, (list(bbls),))]
    return []


_INGESTED_VIOLATIONS = f"""
    SELECT {_V} FROM violations v LEFT JOIN properties p ON p.bbl = v.bbl
    WHERE v.bbl = ANY(%s::bpchar[]) AND v.first_seen_at >= %s AND v.first_seen_at < %s AND NOT v.is_deleted
    ORDER BY v.id
"""  # noqa: S608 -- constant column list
_OBSERVED_VIOLATION_CHANGES = f"""
    SELECT {_V}, h.old_status, h.new_status, h.observed_at
    FROM status_history h JOIN violations v ON h.record_kind = 'violation' AND v.id = h.record_id
    LEFT JOIN properties p ON p.bbl = v.bbl
    WHERE v.bbl = ANY(%s::bpchar[]) AND h.observed_at >= %s AND h.observed_at < %s AND h.old_status IS NOT NULL
      AND NOT v.is_deleted
    ORDER BY h.id
"""  # noqa: S608 -- constant column list
_INGESTED_COMPLAINTS = f"""
    SELECT {_C} FROM complaints c LEFT JOIN properties p ON p.bbl = c.bbl
    WHERE c.bbl = ANY(%s::bpchar[]) AND c.first_seen_at >= %s AND c.first_seen_at < %s AND NOT c.is_deleted
      AND NOT c.is_duplicate
    ORDER BY c.id
"""  # noqa: S608 -- constant column list


def ingested_between(
    conn: psycopg.Connection, kind: str, bbls: Sequence[str], since: datetime, until: datetime
) -> list[Event]:
    """The changes ingestion made at `bbls` in [since, until): records first seen, statuses that changed."""
    if not bbls:
        return []
    params = (list(bbls), since, until)
    if kind == ViolationChange.kind:
        events: list[Event] = [
            violation_change(r, observed_at=r["first_seen_at"]) for r in all_dicts(conn, _INGESTED_VIOLATIONS, params)
        ]
        for r in all_dicts(conn, _OBSERVED_VIOLATION_CHANGES, params):
            old, new = r["old_status"], r["new_status"]
            events.append(violation_change(r, old_status=old, new_status=new, observed_at=r["observed_at"]))
        return events
    if kind == ComplaintChange.kind:
        return [
            complaint_change(r, observed_at=r["first_seen_at"]) for r in all_dicts(conn, _INGESTED_COMPLAINTS, params)
        ]
    return []


# --- by the records' own dates (the dry-run) ---------------------------------------------------------------

_ISSUED = f"""
    SELECT {_V} FROM violations v LEFT JOIN properties p ON p.bbl = v.bbl
    WHERE v.bbl = ANY(%s::bpchar[]) AND v.issued_date BETWEEN %s AND %s AND NOT v.is_deleted ORDER BY v.id
"""  # noqa: S608 -- constant column list
_CLOSED = f"""
    SELECT {_V} FROM violations v LEFT JOIN properties p ON p.bbl = v.bbl
    WHERE v.bbl = ANY(%s::bpchar[]) AND v.status = 'closed' AND v.status_date BETWEEN %s AND %s
      AND NOT v.is_deleted ORDER BY v.id
"""  # noqa: S608 -- constant column list
_REOPENED = f"""
    SELECT {_V}, coalesce(h.changed_on, (h.observed_at AT TIME ZONE 'America/New_York')::date) AS on_day
    FROM status_history h JOIN violations v ON h.record_kind = 'violation' AND v.id = h.record_id
    LEFT JOIN properties p ON p.bbl = v.bbl
    WHERE v.bbl = ANY(%s::bpchar[]) AND h.old_status = 'closed' AND h.new_status = 'open' AND NOT v.is_deleted
      AND coalesce(h.changed_on, (h.observed_at AT TIME ZONE 'America/New_York')::date) BETWEEN %s AND %s
    ORDER BY h.id
"""  # noqa: S608 -- constant column list
_CERTIFIED = f"""
    SELECT {_V} FROM violations v LEFT JOIN properties p ON p.bbl = v.bbl
    WHERE v.bbl = ANY(%s::bpchar[]) AND v.certified_date BETWEEN %s AND %s AND NOT v.is_deleted ORDER BY v.id
"""  # noqa: S608 -- constant column list
_RECEIVED = f"""
    SELECT {_C} FROM complaints c LEFT JOIN properties p ON p.bbl = c.bbl
    WHERE c.bbl = ANY(%s::bpchar[]) AND c.received_date BETWEEN %s AND %s AND NOT c.is_deleted
      AND NOT c.is_duplicate ORDER BY c.id
"""  # noqa: S608 -- constant column list


def by_record_date(
    conn: psycopg.Connection, kind: str, bbls: Sequence[str], first: date, last: date
) -> list[tuple[date, Event]]:
    """(the record's own date, event) for what happened in [first, last] by the city's records: violations by
    their issue date, closings by their status date, reopenings by the date the source gave the change,
    certifications by their certified date, complaints by their received date. Ingestion time plays no part:
    a first load of five years of history has five years of dates, not one day."""
    if not bbls:
        return []
    params = (list(bbls), first, last)
    out: list[tuple[date, Event]] = []
    if kind == ViolationChange.kind:
        for r in all_dicts(conn, _ISSUED, params):
            day = r["issued_date"]
            out.append((day, violation_change(r, new_status="open", observed_at=city_midnight(day), first_seen=False)))
        for r in all_dicts(conn, _CLOSED, params):
            day = r["status_date"]
            event = violation_change(r, old_status="open", observed_at=city_midnight(day), first_seen=False)
            out.append((day, event))
        for r in all_dicts(conn, _REOPENED, params):
            day = r["on_day"]
            event = violation_change(
                r, old_status="closed", new_status="open", observed_at=city_midnight(day), first_seen=False
            )
            out.append((day, event))
        for r in all_dicts(conn, _CERTIFIED, params):
            day = r["certified_date"]
            event = violation_change(r, old_status=r["status"], observed_at=city_midnight(day), first_seen=False)
            out.append((day, event))
    elif kind == ComplaintChange.kind:
        for r in all_dicts(conn, _RECEIVED, params):
            day = r["received_date"]
            out.append((day, complaint_change(r, new_status="open", observed_at=city_midnight(day), first_seen=False)))
    return out


# --- the dry-run's other input: past score changes --------------------------

_SCORES = """
    SELECT bbl, as_of, overall, safety, legal, financial, computed_at,
           lag(overall) OVER w AS p_overall, lag(safety) OVER w AS p_safety,
           lag(legal) OVER w AS p_legal, lag(financial) OVER w AS p_financial
    FROM risk_scores WHERE bbl = ANY(%s::bpchar[])
    WINDOW w AS (PARTITION BY bbl ORDER BY as_of)
"""


def _score_changes(r: Mapping[str, Any]) -> list[Event]:
    return [
        ScoreChange(
            bbl=r["bbl"].strip(),
            score_kind=kind,
            new_score=r[kind],
            as_of=r["as_of"],
            old_score=r[f"p_{kind}"],
            computed_at=r["computed_at"],
        )
        for kind in ("overall", "safety", "legal", "financial")
    ]


def score_changes_between(
    conn: psycopg.Connection, bbls: Sequence[str], since: datetime, until: datetime
) -> list[tuple[date, Event]]:
    """(the city date it was computed, score change) for every score computed in [since, until)."""
    out: list[tuple[date, Event]] = []
    for r in all_dicts(conn, _SCORES, (list(bbls),)):
        if since <= r["computed_at"] < until:
            out += [(city_today(r["computed_at"]), event) for event in _score_changes(r)]
    return out


# --- the live evaluation's input: the scores stored since -------------------

# Each score stored since the instant, with its building's score of the day before it (a lot's scores are one row a
# day, rewritten when it is scored again that day). Days are searched from the day before the instant's: a day's row
# stored after it may be of that day or the next (the scorer's day is UTC's, the city's is New York's).
_SCORES_SINCE = """
    SELECT s.bbl, s.as_of, s.overall, s.safety, s.legal, s.financial, s.computed_at,
           p.overall AS p_overall, p.safety AS p_safety, p.legal AS p_legal, p.financial AS p_financial
    FROM risk_scores s
    LEFT JOIN LATERAL (
        SELECT overall, safety, legal, financial FROM risk_scores p
        WHERE p.bbl = s.bbl AND p.as_of < s.as_of ORDER BY p.as_of DESC LIMIT 1) p ON true
    WHERE s.bbl = ANY(%(bbls)s::bpchar[]) AND s.as_of >= %(first_day)s AND s.computed_at >= %(since)s
    ORDER BY s.bbl, s.as_of
"""


def score_changes_since(conn: psycopg.Connection, bbls: Sequence[str], since: datetime) -> list[Event]:
    """Every score of `bbls` stored at or after `since`, each kind against the building's score of the day before
    (None: its first score). Scores written for a day long past (a backfill's `as_of`) are not changes now."""
    params = {"bbls": list(bbls), "since": since, "first_day": since.date() - timedelta(days=1)}
    return [event for r in all_dicts(conn, _SCORES_SINCE, params) for event in _score_changes(r)]
