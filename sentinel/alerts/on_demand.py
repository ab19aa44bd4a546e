"""Dry-runs and on-demand evaluation of alert rules against the stored history: what the API asks of the alert
engine, with no Ray (the AlertService deployment and the plain-uvicorn app are shells over `OnDemandAlerts`).

Evaluation goes through the engine (sentinel.alerts.engine.evaluate_rules: the evaluation lock, the unique keys,
the cooldown and the outbox), so an alert made on demand is notified exactly like a scheduled one.

The dry-run answers "how often would this rule have fired in the last 30 days" by the records' own dates
(sentinel.alerts.history.by_record_date: issue, close, certification and received dates), not by when they were
ingested: a first load of years of history is years of history. Deadline, balance and freshness conditions are
replayed day by day against the records as they are now (their past states are not rebuilt: `approximate`),
and what had already happened before the window began is the rule's baseline, not counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from sentinel.alerts import engine, history
from sentinel.alerts.conditions import EVENT_KIND
from sentinel.alerts.evaluate import dry_run
from sentinel.alerts.events import BuildingBalance, Event, ScoreChange
from sentinel.alerts.keys import deadline_of
from sentinel.alerts.rules import AlertRule
from sentinel.alerts.scope import PortfolioDirectory
from sentinel.deadlines import city_midnight, city_today, days_left, days_overdue

DRY_RUN_DAYS = 30

APPROXIMATE_KINDS = frozenset({"open_violation", "building_balance", "dataset_freshness"})
# Replayed against today's records: only what happened inside the window counts (the rest is a baseline).
_SINCE_KINDS = frozenset({"open_violation", "dataset_freshness"})


def _day_end(day: date) -> datetime:
    return city_midnight(day + timedelta(days=1)) - timedelta(microseconds=1)


class OnDemandAlerts:
    def __init__(self, connect: Callable[[], AbstractContextManager[psycopg.Connection[Any]]]) -> None:
        self.connect = connect  # a pool's `connection`

    def _snapshot(self, conn: Any, kind: str, bbls: list[str], now: datetime) -> list[Event]:
        """The engine's own scan of today's records, without moving the balance snapshot it compares with."""
        if kind == "open_violation":
            return list(history.open_violations(conn, bbls, first_seen=False))
        if kind == "building_balance":
            return list(engine.balances(conn, bbls, now, record_scan=False))
        if kind == "dataset_freshness":
            return list(engine.freshness(conn))
        return []

    def _batches(
        self, conn: Any, rule: AlertRule, directory: PortfolioDirectory, first: date, now: datetime
    ) -> Iterable[tuple[datetime, list[Event]]]:
        kind = EVENT_KIND[rule.condition.type]
        bbls = sorted(directory.bbls(rule.org_id, rule.scope))
        today = city_today(now)
        if kind in APPROXIMATE_KINDS:
            snapshot = self._snapshot(conn, kind, bbls, now)  # today's records, replayed on each day's clock
            for offset in range((today - first).days + 1):
                day = first + timedelta(days=offset)
                if kind == "building_balance":
                    snapshot = [BuildingBalance(e.bbl, e.balance_due, day, None, e.address) for e in snapshot]  # type: ignore[union-attr]
                yield min(_day_end(day), now), snapshot
            return
        if kind == ScoreChange.kind:
            dated = history.score_changes_between(conn, bbls, city_midnight(first), now)
        else:
            dated = history.by_record_date(conn, kind, bbls, first, today)
        by_day: dict[date, list[Event]] = defaultdict(list)
        for day, event in dated:
            by_day[day].append(event)
        for day in sorted(by_day):
            yield min(_day_end(day), now), by_day[day]

    def dry_run(self, rule: AlertRule, now: datetime, days: int = DRY_RUN_DAYS) -> dict[str, Any]:
        kind = EVENT_KIND[rule.condition.type]
        today = city_today(now)
        first = today - timedelta(days=days - 1)
        since = city_midnight(first) if kind in _SINCE_KINDS else None
        with self.connect() as conn:
            directory = engine.load_directory(conn, rule.org_id)
            result = dry_run(rule, self._batches(conn, rule, directory, first, now), directory, 5, since=since)
        return {
            "would_have_fired": result.fired,
            "days": days,
            "window": {"from": first.isoformat(), "to": today.isoformat()},
            "examples": [_example(c.bbl, c.title, c.trigger_key, c.payload, today) for c in result.samples],
            "approximate": kind in APPROXIMATE_KINDS,
        }

    def evaluate(self, rules: list[AlertRule], now: datetime, days: int = 1) -> dict[str, Any]:
        """Evaluate enabled rules now through the engine: what ingestion brought their buildings in the last
        `days`, their deadline checks, and the baseline of buildings they have not looked at yet."""
        ids = [rule.id for rule in rules if rule.enabled]
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        with self.connect() as conn:
            result = engine.evaluate_rules(conn, ids, now, since=now - timedelta(days=days))
        return {
            "rules": len(ids),
            "alerts_created": result.alerts_created,
            "notified": result.notified,
            "baseline": result.baseline,
            "silenced": result.silenced,
            "notifications": result.notifications,
        }


def _example(bbl: str, title: str, trigger_key: str, payload: dict[str, Any], today: date) -> dict[str, Any]:
    example: dict[str, Any] = {"bbl": bbl, "title": title, "trigger_key": trigger_key, "payload": payload}
    deadline = deadline_of(trigger_key)
    if deadline is not None:
        # The same numbers as the property page (sentinel.deadlines), as of today rather than the replayed day.
        kind, due = deadline
        example["deadline"] = {"kind": kind, "due": due.isoformat(), "days_overdue": days_overdue(due, today),
                               "days_left": days_left(due, today)}  # fmt: skip
    return example
