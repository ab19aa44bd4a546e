"""The alert engine's database side: from what an ingestion run changed (or what the clock says) to `alerts` rows
and their outbox `notifications`, in one transaction.

    with psycopg.connect(url) as conn:
        evaluate_run(conn, run_id)          # after each ingestion commit
        evaluate_time_based(conn)           # on schedule: deadlines, balances, stale sources

What changed in run R: violations/complaints with `last_run_id = R`. A record is *new* when it was first seen
inside the run (`first_seen_at >= ingestion_runs.started_at`: the writer inserts with `DEFAULT now()` and never
touches `first_seen_at` again); otherwise its status before the run is the `old_status` of the run's first
status_history row for it, or its current status when the run changed other fields only.

Exactly once: `INSERT .. ON CONFLICT (rule_id, bbl, trigger_key) DO NOTHING RETURNING` tells new alerts from
known ones, and only new ones get outbox rows, written in the same transaction, so re-evaluating a run (or two
evaluators racing) can never notify twice. Evaluations hold a transaction-level advisory lock: cooldown reads
"last notified" and must not race another evaluation. Before any payload is built, the rules' hits are checked
against `alerts` by key (`unknown`), so a re-evaluation or a repeated scan costs matching and one key lookup.
Outbox rows carry no message: the notifier renders it from the alert (see sentinel.alerts.outbox).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row
from pydantic import ValidationError

from sentinel.alerts.conditions import EVENT_KIND
from sentinel.alerts.cooldown import apply_cooldown
from sentinel.alerts.digest import routes
from sentinel.alerts.evaluate import AlertCandidate, Hit, RuleIndex, candidates
from sentinel.alerts.events import (
    BuildingBalance,
    ComplaintChange,
    DatasetFreshness,
    Event,
    OpenViolation,
    ViolationChange,
)
from sentinel.alerts.rules import AlertRule
from sentinel.alerts.scope import PortfolioDirectory

log = logging.getLogger(__name__)

_EVAL_LOCK = 0x56535F414C52  # "VS_ALR": one evaluation at a time per database
# NYC Open Data publishes these datasets daily; a dataset can be given its own cadence by name.
DEFAULT_EXPECTED_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class RuleSet:
    """Every enabled rule with its organization's time zone, and portfolio membership, read in one pass."""

    rules: tuple[AlertRule, ...]
    directory: PortfolioDirectory

    @property
    def by_id(self) -> dict[int, AlertRule]:
        return {rule.id: rule for rule in self.rules}

    def of_kinds(self, *kinds: str) -> list[AlertRule]:
        return [rule for rule in self.rules if EVENT_KIND[rule.condition.type] in kinds]

    def watched(self, *kinds: str) -> list[str]:
        """The BBLs some rule watches for one of `kinds` of events (what time-based scans need to read)."""
        bbls: set[str] = set()
        for rule in self.of_kinds(*kinds):
            bbls |= self.directory.bbls(rule.org_id, rule.scope)
        return sorted(bbls)


@dataclass
class EvaluationResult:
    events: int = 0
    candidates: int = 0
    alerts_created: int = 0
    notified: int = 0  # new alerts that got outbox rows
    silenced: int = 0  # new alerts the cooldown kept quiet (stored, not sent)
    notifications: int = 0
    alert_ids: list[int] = field(default_factory=list)

    def add(self, other: EvaluationResult) -> None:
        self.events += other.events
        self.candidates += other.candidates
        self.alerts_created += other.alerts_created
        self.notified += other.notified
        self.silenced += other.silenced
        self.notifications += other.notifications
        self.alert_ids += other.alert_ids


def load_rules(conn: psycopg.Connection) -> RuleSet:
    """Enabled rules (a row that no longer validates is logged and skipped, not fatal) and portfolios."""
    rules: list[AlertRule] = []
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT r.id, r.org_id, r.name, r.condition, r.scope, r.channels, r.delivery, r.quiet_hours,"
            " r.cooldown_minutes, r.enabled, o.timezone FROM alert_rules r JOIN organizations o ON o.id = r.org_id"
            " WHERE r.enabled ORDER BY r.id"
        )
        for row in cur:
            try:
                rules.append(AlertRule.from_row(row))
            except ValidationError as error:
                log.error("alert rule skipped: invalid", extra={"rule_id": row["id"], "error": str(error)})
    portfolio_rows = conn.execute(
        "SELECT p.id, p.org_id, pb.bbl FROM portfolios p JOIN portfolio_buildings pb ON pb.portfolio_id = p.id"
    ).fetchall()
    return RuleSet(tuple(rules), PortfolioDirectory.from_rows(portfolio_rows))


_VIOLATIONS_OF_RUN = """
SELECT v.source, v.source_id, v.bbl, v.status, v.class, v.severity, v.category, v.description, v.issued_date,
       v.status_date, v.certify_by_date, v.correct_by_date, v.hearing_date, v.certified_date, v.balance_due,
       v.updated_at, p.address, v.first_seen_at >= r.started_at AS is_new, h.old_status
FROM ingestion_runs r
JOIN violations v ON v.last_run_id = r.id
LEFT JOIN properties p ON p.bbl = v.bbl
LEFT JOIN LATERAL (
    SELECT sh.old_status FROM status_history sh
    WHERE sh.record_kind = 'violation' AND sh.record_id = v.id AND sh.run_id = r.id ORDER BY sh.id LIMIT 1
) h ON true
WHERE r.id = %(run_id)s AND v.bbl IS NOT NULL AND NOT v.is_deleted
ORDER BY v.id
"""

_COMPLAINTS_OF_RUN = """
SELECT c.source, c.source_id, c.bbl, c.status, c.category, c.subcategory, c.priority, c.received_date,
       c.status_date, c.updated_at, p.address, c.first_seen_at >= r.started_at AS is_new, h.old_status
FROM ingestion_runs r
JOIN complaints c ON c.last_run_id = r.id
LEFT JOIN properties p ON p.bbl = c.bbl
LEFT JOIN LATERAL (
    SELECT sh.old_status FROM status_history sh
    WHERE sh.record_kind = 'complaint' AND sh.record_id = c.id AND sh.run_id = r.id ORDER BY sh.id LIMIT 1
) h ON true
WHERE r.id = %(run_id)s AND c.bbl IS NOT NULL AND NOT c.is_deleted AND NOT c.is_duplicate
ORDER BY c.id
"""


def _old_status(row: Mapping[str, Any]) -> str | None:
    if row["is_new"]:
        return None
    return row["old_status"] or row["status"]


def run_events(conn: psycopg.Connection, run_id: int) -> list[Event]:
    """The violation and complaint changes ingestion run `run_id` made, oldest record first."""
    events: list[Event] = []
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_VIOLATIONS_OF_RUN, {"run_id": run_id})
        for r in cur:
            events.append(
                ViolationChange(
                    source=r["source"], source_id=r["source_id"], bbl=r["bbl"], new_status=r["status"],
                    old_status=_old_status(r), violation_class=r["class"], severity=r["severity"],
                    category=r["category"], description=r["description"], issued_date=r["issued_date"],
                    status_date=r["status_date"], certify_by_date=r["certify_by_date"],
                    correct_by_date=r["correct_by_date"], hearing_date=r["hearing_date"],
                    certified_date=r["certified_date"], balance_due=r["balance_due"], address=r["address"],
                    observed_at=r["updated_at"],
                )
            )  # fmt: skip
        cur.execute(_COMPLAINTS_OF_RUN, {"run_id": run_id})
        for r in cur:
            events.append(
                ComplaintChange(
                    source=r["source"], source_id=r["source_id"], bbl=r["bbl"], new_status=r["status"],
                    old_status=_old_status(r), category=r["category"], subcategory=r["subcategory"],
                    priority=r["priority"], received_date=r["received_date"], status_date=r["status_date"],
                    address=r["address"], observed_at=r["updated_at"],
                )
            )  # fmt: skip
    return events


def open_violations(conn: psycopg.Connection, bbls: Sequence[str]) -> list[OpenViolation]:
    """Open violations with a deadline at the given buildings (the deadline scans' input)."""
    if not bbls:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT v.source, v.source_id, v.bbl, v.class, v.severity, v.category, v.description, v.certify_by_date,"
            " v.correct_by_date, v.hearing_date, v.certified_date, p.address FROM violations v"
            " LEFT JOIN properties p ON p.bbl = v.bbl"
            " WHERE v.bbl = ANY(%s) AND v.status = 'open' AND NOT v.is_deleted"
            " AND (v.certify_by_date IS NOT NULL OR v.correct_by_date IS NOT NULL OR v.hearing_date IS NOT NULL)"
            " ORDER BY v.id",
            (list(bbls),),
        )
        return [
            OpenViolation(
                source=r["source"],
                source_id=r["source_id"],
                bbl=r["bbl"],
                violation_class=r["class"],
                severity=r["severity"],
                category=r["category"],
                description=r["description"],
                certify_by_date=r["certify_by_date"],
                correct_by_date=r["correct_by_date"],
                hearing_date=r["hearing_date"],
                certified_date=r["certified_date"],
                address=r["address"],
            )
            for r in cur
        ]


def balances(conn: psycopg.Connection, bbls: Sequence[str], now: datetime) -> list[BuildingBalance]:
    """Each watched building's unpaid penalties now, with the balance the previous scan saw, and record this scan.
    Called inside the evaluation's transaction: the snapshot moves only if the alerts it produces commit."""
    if not bbls:
        return []
    rows = conn.execute(
        "SELECT b.bbl, coalesce(sum(v.balance_due) FILTER (WHERE v.balance_due > 0 AND NOT v.is_deleted), 0),"
        " s.balance_due, p.address FROM unnest(%s::char(10)[]) AS b(bbl)"
        " LEFT JOIN violations v ON v.bbl = b.bbl"
        " LEFT JOIN alert_balance_snapshots s ON s.bbl = b.bbl"
        " LEFT JOIN properties p ON p.bbl = b.bbl"
        " GROUP BY b.bbl, s.balance_due, p.address ORDER BY b.bbl",
        (list(bbls),),
    ).fetchall()
    conn.execute(
        "INSERT INTO alert_balance_snapshots (bbl, balance_due, scanned_at) SELECT * FROM unnest(%s::char(10)[],"
        " %s::numeric[], %s::timestamptz[]) ON CONFLICT (bbl) DO UPDATE SET balance_due = EXCLUDED.balance_due,"
        " scanned_at = EXCLUDED.scanned_at",
        ([r[0] for r in rows], [r[1] for r in rows], [now] * len(rows)),
    )
    today = now.astimezone(UTC).date()
    return [BuildingBalance(bbl, Decimal(total), today, previous, address) for bbl, total, previous, address in rows]


def freshness(
    conn: psycopg.Connection, expected_every: Mapping[str, timedelta] | None = None
) -> list[DatasetFreshness]:
    """When each dataset last delivered new data: the newest source `:updated_at` its watermarks reached."""
    expected_every = expected_every or {}
    rows = conn.execute(
        "SELECT dataset, max(updated_at_mark) FROM watermarks WHERE updated_at_mark IS NOT NULL"
        " GROUP BY dataset ORDER BY dataset"
    ).fetchall()
    return [DatasetFreshness(ds, last, expected_every.get(ds, DEFAULT_EXPECTED_EVERY)) for ds, last in rows]


def _last_notified(
    conn: psycopg.Connection, rules: Iterable[AlertRule], now: datetime
) -> dict[tuple[int, str], datetime]:
    cooling = [rule for rule in rules if rule.cooldown_minutes > 0]
    if not cooling:
        return {}
    since = now - timedelta(minutes=max(rule.cooldown_minutes for rule in cooling))
    rows = conn.execute(
        "SELECT a.rule_id, a.bbl, max(a.created_at) FROM alerts a WHERE a.rule_id = ANY(%s) AND a.created_at > %s"
        " AND EXISTS (SELECT 1 FROM notifications n WHERE n.alert_id = a.id) GROUP BY a.rule_id, a.bbl",
        ([rule.id for rule in cooling], since),
    ).fetchall()
    return {(rule_id, bbl): at for rule_id, bbl, at in rows}


def _load_temp_table(cur: psycopg.Cursor, name: str, columns: str, rows: Iterable[Sequence[Any]]) -> None:
    """A session temp table `name (columns)` holding exactly `rows` (emptied first; emptied again at commit).

    Large key and row sets travel by COPY: as array parameters, 332k elements cost seconds to adapt."""
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns}) ON COMMIT DELETE ROWS")
    cur.execute(f"TRUNCATE {name}")
    with cur.copy(f"COPY {name} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def unknown(conn: psycopg.Connection, hits: Sequence[Hit]) -> list[Hit]:
    """The hits that are not alerts yet, in order. Re-evaluating a run, and every scheduled scan that sees the
    same open deadline again, meet mostly alerts that exist: checking their keys first spares building, sending
    and conflicting their payloads. A shortcut only: the insert's ON CONFLICT is what makes an alert once."""
    if not hits:
        return []
    with conn.cursor() as cur:
        keys = ((i, hit.rule.id, hit.match.bbl, hit.match.trigger_key) for i, hit in enumerate(hits))
        _load_temp_table(cur, "alert_keys", "ord integer, rule_id bigint, bbl char(10), trigger_key text", keys)
        cur.execute(
            "SELECT k.ord FROM alert_keys k JOIN alerts a"
            " ON a.rule_id = k.rule_id AND a.bbl = k.bbl AND a.trigger_key = k.trigger_key"
        )
        known = {ord_ for (ord_,) in cur.fetchall()}
    return [hit for i, hit in enumerate(hits) if i not in known] if known else list(hits)


def _insert_alerts(
    conn: psycopg.Connection, candidates: Sequence[AlertCandidate], now: datetime
) -> list[tuple[AlertCandidate, int]]:
    """Insert candidates; return the ones that were new, in candidate order, with their ids.

    Ids are drawn from the sequence first, in candidate order. The candidates passed `unknown` under the
    evaluation lock, so they are normally all new and go straight into `alerts` with one COPY (in a savepoint).
    Should one exist after all (a writer that takes no evaluation lock, e.g. the API's evaluate), the unique
    key refuses the COPY, the savepoint is rolled back and the slower path sorts new from known with
    `ON CONFLICT DO NOTHING RETURNING id`. Either way the unique key, not the pre-check, makes an alert once."""
    if not candidates:
        return []
    with conn.cursor() as cur:
        cur.execute(
            "SELECT nextval(seq) FROM (SELECT pg_get_serial_sequence('alerts', 'id')::regclass AS seq) s,"
            " generate_series(1, %s)",
            (len(candidates),),
        )
        ids = [alert_id for (alert_id,) in cur.fetchall()]

    def rows() -> Iterator[tuple[Any, ...]]:
        for alert_id, c in zip(ids, candidates, strict=True):
            yield alert_id, c.rule_id, c.org_id, c.bbl, c.trigger_key, c.title, orjson.dumps(c.payload).decode()

    try:
        with conn.transaction(), conn.cursor() as cur:
            at = now.isoformat()
            copy_sql = "COPY alerts (id, rule_id, org_id, bbl, trigger_key, title, payload, created_at) FROM STDIN"
            with cur.copy(copy_sql) as copy:
                for row in rows():
                    copy.write_row((*row, at))
        return list(zip(candidates, ids, strict=True))
    except psycopg.errors.UniqueViolation:
        log.info("an alert was created concurrently; inserting with ON CONFLICT", extra={"count": len(ids)})
    with conn.cursor() as cur:
        columns = "id bigint, rule_id bigint, org_id bigint, bbl text, trigger_key text, title text, payload jsonb"
        _load_temp_table(cur, "alert_candidates", columns, rows())
        cur.execute(
            "INSERT INTO alerts (id, rule_id, org_id, bbl, trigger_key, title, payload, created_at)"
            " SELECT id, rule_id, org_id, bbl, trigger_key, title, payload, %s FROM alert_candidates"
            " ON CONFLICT (rule_id, bbl, trigger_key) DO NOTHING RETURNING id",
            (now,),
        )
        inserted = {alert_id for (alert_id,) in cur.fetchall()}
    return [(c, alert_id) for alert_id, c in zip(ids, candidates, strict=True) if alert_id in inserted]


_NOTIFY = """
INSERT INTO notifications (alert_id, org_id, channel, target, next_attempt_at, delivery, created_at)
SELECT a.alert_id, a.org_id, r.channel, r.target, r.due_at, r.delivery, %(now)s
FROM alerts_to_notify a
JOIN unnest(%(route_rules)s::bigint[], %(channels)s::text[], %(targets)s::text[], %(due)s::timestamptz[],
            %(deliveries)s::text[]) WITH ORDINALITY AS r(rule_id, channel, target, due_at, delivery, pos)
    USING (rule_id)
ORDER BY a.alert_id, r.pos
"""


def _insert_notifications(
    conn: psycopg.Connection, new: Sequence[tuple[AlertCandidate, int]], rules: Mapping[int, AlertRule], now: datetime
) -> int:
    """One outbox row per (new alert, channel target of its rule), without a payload: the notifier renders the
    message from the alert when it sends. Where and when a rule's alerts go depends on the rule and `now` only,
    so it is worked out once per rule, and the rows are made by the database."""
    if not new:
        return 0
    route_rules: list[int] = []
    route_columns: tuple[list[Any], ...] = ([], [], [], [])
    for rule_id in sorted({c.rule_id for c, _ in new}):
        for r in routes(rules[rule_id], now):
            route_rules.append(rule_id)
            for column, value in zip(route_columns, (r.channel, r.target, r.due_at, r.delivery), strict=True):
                column.append(value)
    if not route_rules:
        return 0
    channels, targets, due, deliveries = route_columns
    with conn.cursor() as cur:
        rows = ((alert_id, c.org_id, c.rule_id) for c, alert_id in new)
        _load_temp_table(cur, "alerts_to_notify", "alert_id bigint, org_id bigint, rule_id bigint", rows)
        params = {"now": now, "route_rules": route_rules, "channels": channels, "targets": targets, "due": due,
                  "deliveries": deliveries}  # fmt: skip
        cur.execute(_NOTIFY, params)
        return cur.rowcount


def store(
    conn: psycopg.Connection, ruleset: RuleSet, candidates: Sequence[AlertCandidate], now: datetime
) -> EvaluationResult:
    """Alerts for the candidates not seen before, and outbox rows for those the cooldown lets through.
    The caller owns the transaction (and the evaluation lock)."""
    rules = ruleset.by_id
    last_notified = _last_notified(conn, (rules[rule_id] for rule_id in {c.rule_id for c in candidates}), now)
    new = _insert_alerts(conn, candidates, now)
    decision = apply_cooldown([c for c, _ in new], rules, last_notified, now)
    ids = {id(c): alert_id for c, alert_id in new}  # the decision hands back the same objects
    silenced_ids = [ids[id(c)] for c in decision.silenced]
    if silenced_ids:
        # Kept in the feed, marked so that nobody wonders why no message went out.
        conn.execute(
            "UPDATE alerts SET payload = payload || '{\"silenced_by_cooldown\": true}'::jsonb WHERE id = ANY(%s)",
            (silenced_ids,),
        )
    to_notify = [(c, ids[id(c)]) for c in decision.notify]
    notifications = _insert_notifications(conn, to_notify, rules, now)
    return EvaluationResult(
        candidates=len(candidates),
        alerts_created=len(new),
        notified=len(to_notify),
        silenced=len(silenced_ids),
        notifications=notifications,
        alert_ids=[alert_id for _, alert_id in new],
    )


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def evaluate_run(conn: psycopg.Connection, run_id: int, now: datetime | None = None) -> EvaluationResult:
    """Alerts for what ingestion run `run_id` inserted or changed; running it again creates nothing."""
    now = _now(now)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_EVAL_LOCK,))
        ruleset = load_rules(conn)
        if not ruleset.of_kinds(ViolationChange.kind, ComplaintChange.kind):
            return EvaluationResult()
        events = run_events(conn, run_id)
        hits = RuleIndex(ruleset.rules, ruleset.directory).hits(events, now)
        result = store(conn, ruleset, candidates(unknown(conn, hits)), now)
    result.events, result.candidates = len(events), len(hits)
    log.info("run evaluated", extra={"run_id": run_id, "events": len(events), "alerts": result.alerts_created})
    return result


def evaluate_time_based(
    conn: psycopg.Connection, now: datetime | None = None, expected_every: Mapping[str, timedelta] | None = None
) -> EvaluationResult:
    """The scheduled checks: approaching and overdue deadlines, penalty balances, stale source datasets."""
    now = _now(now)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_EVAL_LOCK,))
        ruleset = load_rules(conn)
        events: list[Event] = []
        events += open_violations(conn, ruleset.watched(OpenViolation.kind))
        events += balances(conn, ruleset.watched(BuildingBalance.kind), now)
        if ruleset.of_kinds(DatasetFreshness.kind):
            events += freshness(conn, expected_every)
        hits = RuleIndex(ruleset.rules, ruleset.directory).hits(events, now)
        result = store(conn, ruleset, candidates(unknown(conn, hits)), now)
    result.events, result.candidates = len(events), len(hits)
    log.info("time-based checks evaluated", extra={"events": len(events), "alerts": result.alerts_created})
    return result
