"""Deterministic trigger keys. The database's UNIQUE (rule_id, bbl, trigger_key) turns "evaluate again" into
"insert nothing", so a key must depend only on the triggering record, never on when it was evaluated.

    violation:<SOURCE>:<source_id>:new
    violation:<SOURCE>:<source_id>:<closed|reopened>:<status date>
    violation:<SOURCE>:<source_id>:certified_late:<certified date>
    complaint:<SOURCE>:<source_id>:new
    deadline:<SOURCE>:<source_id>:<certify_by|correct_by|hearing>:<deadline>
    overdue:<SOURCE>:<source_id>:<certify_by|correct_by>:<deadline>
    balance:<bbl>:above:<amount>:<as_of>
    risk:<bbl>:<score>:above:<threshold>:<as_of>
    risk:<bbl>:<score>:jump:<as_of>
    stale:<dataset>:<last update, UTC>

A date in the key makes a new occurrence a new alert: a reopened-again violation, a rescheduled hearing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

# alerts.bbl is NOT NULL; alerts about a dataset rather than a building are filed under this pseudo-BBL.
ORG_WIDE_BBL = "0000000000"


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else "undated"


def violation_new(source: str, source_id: str) -> str:
    return f"violation:{source}:{source_id}:new"


def violation_transition(source: str, source_id: str, transition: str, on: date | None) -> str:
    return f"violation:{source}:{source_id}:{transition}:{_day(on)}"


def complaint_new(source: str, source_id: str) -> str:
    return f"complaint:{source}:{source_id}:new"


def deadline(source: str, source_id: str, deadline_kind: str, due: date) -> str:
    return f"deadline:{source}:{source_id}:{deadline_kind}:{due.isoformat()}"


def overdue(source: str, source_id: str, deadline_kind: str, due: date) -> str:
    return f"overdue:{source}:{source_id}:{deadline_kind}:{due.isoformat()}"


def deadline_of(trigger_key: str) -> tuple[str, date] | None:
    """(deadline kind, due date) of a deadline: or overdue: key; None for any other key."""
    if not trigger_key.startswith(("deadline:", "overdue:")):
        return None
    kind, due = trigger_key.rsplit(":", 2)[1:]
    return kind, date.fromisoformat(due)


def balance_above(bbl: str, amount: Decimal, as_of: date) -> str:
    # normalize() so that 10000, 10000.00 and 1E+4 are one threshold.
    return f"balance:{bbl}:above:{format(amount.normalize(), 'f')}:{as_of.isoformat()}"


def risk_above(bbl: str, score: str, threshold: int, as_of: date) -> str:
    return f"risk:{bbl}:{score}:above:{threshold}:{as_of.isoformat()}"


def risk_jump(bbl: str, score: str, as_of: date) -> str:
    return f"risk:{bbl}:{score}:jump:{as_of.isoformat()}"


def stale(dataset: str, last_updated_at: datetime) -> str:
    return f"stale:{dataset}:{last_updated_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
