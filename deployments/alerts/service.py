"""Dry-runs and on-demand evaluation of alert rules against the stored history (Ray-free).

Events are rebuilt from the tables for the rule's buildings and replayed day by day through the one evaluation
implementation in sentinel.alerts: new violations and complaints by the day they were first seen, status
changes from status_history, risk score changes from risk_scores. Deadline, balance and freshness conditions
are evaluated against the current open violations / balances / watermarks at each day's end: the history of
deadlines is not rebuilt, so the dry-run says `approximate: true` for them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from deployments.api.responses import dumps
from sentinel.alerts import AlertRule, PortfolioDirectory, RuleIndex, dry_run
from sentinel.alerts.conditions import EVENT_KIND
from sentinel.alerts.events import (
    BuildingBalance,
    ComplaintChange,
    DatasetFreshness,
    Event,
    OpenViolation,
    ScoreChange,
    ViolationChange,
)

DRY_RUN_DAYS = 30


def _json(value: Any) -> str:
    return dumps(value).decode()


APPROXIMATE_KINDS = frozenset({"open_violation", "building_balance", "dataset_freshness"})

_NEW_VIOLATIONS = """
    SELECT v.source, v.source_id, v.bbl, v.status, v.class, v.severity, v.category, v.description, v.issued_date,
           v.status_date, v.certify_by_date, v.correct_by_date, v.hearing_date, v.certified_date, v.balance_due,
           p.address, v.first_seen_at
    FROM violations v LEFT JOIN properties p ON p.bbl = v.bbl
    WHERE v.bbl = ANY(%s::bpchar[]) AND v.first_seen_at >= %s AND v.first_seen_at < %s AND NOT v.is_deleted
"""
_VIOLATION_STATUS = """
    SELECT v.source, v.source_id, v.bbl, h.new_status, h.old_status, v.class, v.severity, v.category,
           v.description, v.issued_date, v.certify_by_date, v.correct_by_date, v.hearing_date, v.certified_date,
           p.address, h.observed_at
    FROM status_history h JOIN violations v ON h.record_kind = 'violation' AND v.id = h.record_id
    LEFT JOIN properties p ON p.bbl = v.bbl
    WHERE v.bbl = ANY(%s::bpchar[]) AND h.observed_at >= %s AND h.observed_at < %s AND h.old_status IS NOT NULL
"""
_NEW_COMPLAINTS = """
    SELECT c.source, c.source_id, c.bbl, c.status, c.category, c.subcategory, c.priority, c.received_date,
           c.status_date, p.address, c.first_seen_at
    FROM complaints c LEFT JOIN properties p ON p.bbl = c.bbl
    WHERE c.bbl = ANY(%s::bpchar[]) AND c.first_seen_at >= %s AND c.first_seen_at < %s AND NOT c.is_deleted
"""
_OPEN_VIOLATIONS = """
    SELECT v.source, v.source_id, v.bbl, v.class, v.severity, v.category, v.description, v.certify_by_date,
           v.correct_by_date, v.hearing_date, v.certified_date, p.address
    FROM violations v LEFT JOIN properties p ON p.bbl = v.bbl
    WHERE v.bbl = ANY(%s::bpchar[]) AND v.status = 'open' AND NOT v.is_deleted
      AND (v.certify_by_date IS NOT NULL OR v.correct_by_date IS NOT NULL OR v.hearing_date IS NOT NULL)
"""
_BALANCES = """
    SELECT v.bbl, sum(v.balance_due) AS balance, min(p.address) AS address
    FROM violations v LEFT JOIN properties p ON p.bbl = v.bbl
    WHERE v.bbl = ANY(%s::bpchar[]) AND NOT v.is_deleted AND v.balance_due IS NOT NULL GROUP BY v.bbl
"""
_SCORES = """
    SELECT bbl, as_of, overall, safety, legal, financial, computed_at,
           lag(overall) OVER w AS p_overall, lag(safety) OVER w AS p_safety,
           lag(legal) OVER w AS p_legal, lag(financial) OVER w AS p_financial
    FROM risk_scores WHERE bbl = ANY(%s::bpchar[])
    WINDOW w AS (PARTITION BY bbl ORDER BY as_of)
"""
_FRESHNESS = "SELECT dataset, max(updated_at) FROM watermarks GROUP BY dataset"


def _day_end(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC) - timedelta(microseconds=1)


class AlertEngine:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def directory(self, conn: Any, org_id: int) -> PortfolioDirectory:
        rows = conn.execute(
            "SELECT p.id, p.org_id, b.bbl FROM portfolios p JOIN portfolio_buildings b ON b.portfolio_id = p.id "
            "WHERE p.org_id = %s",
            (org_id,),
        ).fetchall()
        return PortfolioDirectory.from_rows((pid, org, bbl.strip()) for pid, org, bbl in rows)

    def _events(
        self, conn: Any, kind: str, bbls: list[str], start: datetime, end: datetime
    ) -> list[tuple[datetime, Event]]:
        """(when it happened, event) for one event kind over [start, end)."""
        out: list[tuple[datetime, Event]] = []
        with conn.cursor(row_factory=dict_row) as cur:
            if kind == "violation_change":
                for r in cur.execute(_NEW_VIOLATIONS, (bbls, start, end)):
                    out.append((r["first_seen_at"], ViolationChange(
                        source=r["source"], source_id=r["source_id"], bbl=r["bbl"].strip(), new_status=r["status"],
                        violation_class=r["class"], severity=r["severity"], category=r["category"],
                        description=r["description"], issued_date=r["issued_date"], status_date=r["status_date"],
                        certify_by_date=r["certify_by_date"], correct_by_date=r["correct_by_date"],
                        hearing_date=r["hearing_date"], certified_date=r["certified_date"],
                        balance_due=r["balance_due"], address=r["address"], observed_at=r["first_seen_at"],
                    )))  # fmt: skip
                for r in cur.execute(_VIOLATION_STATUS, (bbls, start, end)):
                    out.append((r["observed_at"], ViolationChange(
                        source=r["source"], source_id=r["source_id"], bbl=r["bbl"].strip(), new_status=r["new_status"],
                        old_status=r["old_status"], violation_class=r["class"], severity=r["severity"],
                        category=r["category"], description=r["description"], issued_date=r["issued_date"],
                        certify_by_date=r["certify_by_date"], correct_by_date=r["correct_by_date"],
                        hearing_date=r["hearing_date"], certified_date=r["certified_date"], address=r["address"],
                        observed_at=r["observed_at"],
                    )))  # fmt: skip
            elif kind == "complaint_change":
                for r in cur.execute(_NEW_COMPLAINTS, (bbls, start, end)):
                    out.append((r["first_seen_at"], ComplaintChange(
                        source=r["source"], source_id=r["source_id"], bbl=r["bbl"].strip(), new_status=r["status"],
                        category=r["category"], subcategory=r["subcategory"], priority=r["priority"],
                        received_date=r["received_date"], status_date=r["status_date"], address=r["address"],
                        observed_at=r["first_seen_at"],
                    )))  # fmt: skip
            elif kind == "score_change":
                for r in cur.execute(_SCORES, (bbls,)):
                    if not start <= r["computed_at"] < end:
                        continue
                    for score_kind in ("overall", "safety", "legal", "financial"):
                        out.append((r["computed_at"], ScoreChange(
                            bbl=r["bbl"].strip(), score_kind=score_kind, new_score=r[score_kind], as_of=r["as_of"],
                            old_score=r[f"p_{score_kind}"],
                        )))  # fmt: skip
        return out

    def _snapshot(self, conn: Any, kind: str, bbls: list[str], day: date) -> list[Event]:
        with conn.cursor(row_factory=dict_row) as cur:
            if kind == "open_violation":
                return [
                    OpenViolation(
                        source=r["source"], source_id=r["source_id"], bbl=r["bbl"].strip(),
                        violation_class=r["class"], severity=r["severity"], category=r["category"],
                        description=r["description"], certify_by_date=r["certify_by_date"],
                        correct_by_date=r["correct_by_date"], hearing_date=r["hearing_date"],
                        certified_date=r["certified_date"], address=r["address"],
                    )
                    for r in cur.execute(_OPEN_VIOLATIONS, (bbls,))
                ]  # fmt: skip
            if kind == "building_balance":
                return [
                    BuildingBalance(bbl=r["bbl"].strip(), balance_due=r["balance"], as_of=day, address=r["address"])
                    for r in cur.execute(_BALANCES, (bbls,))
                ]
            if kind == "dataset_freshness":
                return [
                    DatasetFreshness(dataset=d, last_updated_at=at, expected_every=timedelta(days=1))
                    for d, at in conn.execute(_FRESHNESS)
                    if at is not None
                ]
        return []

    def _batches(
        self, conn: Any, rule: AlertRule, directory: PortfolioDirectory, days: int, now: datetime
    ) -> Iterable[tuple[datetime, list[Event]]]:
        kind = EVENT_KIND[rule.condition.type]
        bbls = sorted(directory.bbls(rule.org_id, rule.scope))
        zone = rule.zone
        today = now.astimezone(zone).date()
        first = today - timedelta(days=days - 1)
        start = datetime.combine(first, time(0), zone).astimezone(UTC)
        if kind in APPROXIMATE_KINDS:
            for offset in range(days):
                day = first + timedelta(days=offset)
                yield min(_day_end(day, zone), now), self._snapshot(conn, kind, bbls, day)
            return
        by_day: dict[date, list[Event]] = defaultdict(list)
        for when, event in self._events(conn, kind, bbls, start, now):
            by_day[when.astimezone(zone).date()].append(event)
        for day in sorted(by_day):
            yield min(_day_end(day, zone), now), by_day[day]

    def dry_run(self, rule: AlertRule, now: datetime, days: int = DRY_RUN_DAYS) -> dict[str, Any]:
        with self.pool.connection() as conn:
            directory = self.directory(conn, rule.org_id)
            result = dry_run(rule, self._batches(conn, rule, directory, days, now), directory, sample_size=5)
        return {
            "would_have_fired": result.fired,
            "days": days,
            "examples": [
                {"bbl": c.bbl, "title": c.title, "trigger_key": c.trigger_key, "payload": c.payload}
                for c in result.samples
            ],
            "approximate": EVENT_KIND[rule.condition.type] in APPROXIMATE_KINDS,
        }

    def evaluate(self, rules: list[AlertRule], now: datetime, days: int = 1) -> dict[str, Any]:
        """Evaluate enabled rules over the last `days` and create the alerts (once per rule, building, trigger)."""
        created = 0
        with self.pool.connection() as conn:
            for rule in rules:
                if not rule.enabled:
                    continue
                directory = self.directory(conn, rule.org_id)
                index = RuleIndex([rule], directory)
                with conn.transaction():
                    for at, events in self._batches(conn, rule, directory, days, now):
                        for c in index.evaluate(events, at):
                            row = conn.execute(
                                "INSERT INTO alerts (rule_id, org_id, bbl, trigger_key, title, payload) "
                                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (rule_id, bbl, trigger_key) DO NOTHING "
                                "RETURNING id",
                                (c.rule_id, c.org_id, c.bbl, c.trigger_key, c.title, Jsonb(c.payload, dumps=_json)),
                            ).fetchone()
                            created += row is not None
        return {"rules": len(rules), "alerts_created": created}
