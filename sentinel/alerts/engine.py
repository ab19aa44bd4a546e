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

from sentinel.alerts import history
from sentinel.alerts.baseline import NEVER, Watch, split, synced_datasets
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
    ScoreChange,
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
    baseline: int = 0  # new alerts that were already there when monitoring began (stored, never sent)
    notifications: int = 0
    alert_ids: list[int] = field(default_factory=list)

    def add(self, other: EvaluationResult) -> None:
        self.events += other.events
        self.candidates += other.candidates
        self.alerts_created += other.alerts_created
        self.notified += other.notified
        self.silenced += other.silenced
        self.baseline += other.baseline
        self.notifications += other.notifications
        self.alert_ids += other.alert_ids


def load_rules(conn: psycopg.Connection) -> RuleSet:
    """Enabled rules (a row that no longer validates is logged and skipped, not fatal) and portfolios."""
    rules: list[AlertRule] = []
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT r.id, r.org_id, r.name, r.condition, r.scope, r.channels, r.delivery, r.quiet_hours,"
            " r.cooldown_minutes, r.enabled, r.monitoring_since, o.timezone FROM alert_rules r"
            " JOIN organizations o ON o.id = r.org_id WHERE r.enabled ORDER BY r.id"
        )
        for row in cur:
            try:
                rules.append(AlertRule.from_row(row))
            except ValidationError as error:
                log.error("alert rule skipped: invalid", extra={"rule_id": row["id"], "error": str(error)})
    return RuleSet(tuple(rules), load_directory(conn))


def load_directory(conn: psycopg.Connection, org_id: int | None = None) -> PortfolioDirectory:
    """The buildings of every portfolio (of one organization when `org_id` is given), with when each was added."""
    rows = conn.execute(
        "SELECT p.id, p.org_id, pb.bbl, pb.added_at FROM portfolios p"
        " JOIN portfolio_buildings pb ON pb.portfolio_id = p.id WHERE %(org)s::bigint IS NULL OR p.org_id = %(org)s",
        {"org": org_id},
    ).fetchall()
    return PortfolioDirectory.from_rows(rows)


_VIOLATIONS_OF_RUN = """
SELECT v.source, v.source_id, v.bbl, v.status, v.class, v.severity, v.category, v.description, v.issued_date,
       v.status_date, v.certify_by_date, v.correct_by_date, v.hearing_date, v.certified_date, v.balance_due,
       v.updated_at, v.first_seen_at, p.address, v.first_seen_at >= r.started_at AS is_new, h.old_status
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
       c.status_date, c.updated_at, c.first_seen_at, p.address, c.first_seen_at >= r.started_at AS is_new,
       h.old_status
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
            events.append(history.violation_change(r, old_status=_old_status(r), observed_at=r["updated_at"]))
        cur.execute(_COMPLAINTS_OF_RUN, {"run_id": run_id})
        for r in cur:
            events.append(history.complaint_change(r, old_status=_old_status(r), observed_at=r["updated_at"]))
    return events


open_violations = history.open_violations


def balances(
    conn: psycopg.Connection, bbls: Sequence[str], now: datetime, *, record_scan: bool = True
) -> list[BuildingBalance]:
    """Each watched building's unpaid penalties now, with the balance the previous scan saw, and record this scan
    (unless `record_scan` is false: a dry-run looks without moving what the next scan compares with).
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
    if record_scan:
        _record_balances(conn, rows, now)
    today = now.astimezone(UTC).date()
    return [BuildingBalance(bbl, Decimal(total), today, previous, address) for bbl, total, previous, address in rows]


def _record_balances(conn: psycopg.Connection, rows: Sequence[Sequence[Any]], now: datetime) -> None:
    conn.execute(
        "INSERT INTO alert_balance_snapshots (bbl, balance_due, scanned_at) SELECT * FROM unnest(%s::char(10)[],"
        " %s::numeric[], %s::timestamptz[]) ON CONFLICT (bbl) DO UPDATE SET balance_due = EXCLUDED.balance_due,"
        " scanned_at = EXCLUDED.scanned_at",
        ([r[0] for r in rows], [r[1] for r in rows], [now] * len(rows)),
    )


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
    Should one exist after all (a writer that takes no evaluation lock), the unique
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
            payload = orjson.dumps(c.payload).decode()
            yield alert_id, c.rule_id, c.org_id, c.bbl, c.trigger_key, c.title, payload, c.baseline

    try:
        with conn.transaction(), conn.cursor() as cur:
            at = now.isoformat()
            copy_sql = (
                "COPY alerts (id, rule_id, org_id, bbl, trigger_key, title, payload, baseline, created_at) FROM STDIN"
            )
            with cur.copy(copy_sql) as copy:
                for row in rows():
                    copy.write_row((*row, at))
        return list(zip(candidates, ids, strict=True))
    except psycopg.errors.UniqueViolation:
        log.info("an alert was created concurrently; inserting with ON CONFLICT", extra={"count": len(ids)})
    with conn.cursor() as cur:
        columns = (
            "id bigint, rule_id bigint, org_id bigint, bbl text, trigger_key text, title text, payload jsonb,"
            " baseline boolean"
        )
        _load_temp_table(cur, "alert_candidates", columns, rows())
        cur.execute(
            "INSERT INTO alerts (id, rule_id, org_id, bbl, trigger_key, title, payload, baseline, created_at)"
            " SELECT id, rule_id, org_id, bbl, trigger_key, title, payload, baseline, %s FROM alert_candidates"
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
    conn: psycopg.Connection,
    ruleset: RuleSet,
    candidates: Sequence[AlertCandidate],
    now: datetime,
    baseline: Sequence[AlertCandidate] = (),
) -> EvaluationResult:
    """Alerts for the candidates not seen before, and outbox rows for those the cooldown lets through; the
    `baseline` candidates (already there when monitoring began) become alerts that notify nobody.
    The caller owns the transaction (and the evaluation lock)."""
    rules = ruleset.by_id
    last_notified = _last_notified(conn, (rules[rule_id] for rule_id in {c.rule_id for c in candidates}), now)
    new = _insert_alerts(conn, [*candidates, *baseline], now)
    news = [(c, alert_id) for c, alert_id in new if not c.baseline]
    decision = apply_cooldown([c for c, _ in news], rules, last_notified, now)
    ids = {id(c): alert_id for c, alert_id in news}  # the decision hands back the same objects
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
        candidates=len(candidates) + len(baseline),
        alerts_created=len(new),
        notified=len(to_notify),
        silenced=len(silenced_ids),
        notifications=notifications,
        alert_ids=[alert_id for _, alert_id in new],
        baseline=len(new) - len(news),
    )


def _store_hits(conn: psycopg.Connection, ruleset: RuleSet, hits: Sequence[Hit], now: datetime) -> EvaluationResult:
    """Store the hits that are not alerts yet, telling news from the baseline (sentinel.alerts.baseline)."""
    fresh = unknown(conn, hits)
    if not fresh:
        return EvaluationResult()
    news, old = split(fresh, Watch(ruleset.directory, synced_datasets(conn)), now)
    return store(conn, ruleset, candidates(news), now, candidates(old, baseline=True))


# Conditions whose "already open" records a new rule or building takes as its baseline.
_BASELINED = {"new_violation": ViolationChange.kind, "new_complaint": ComplaintChange.kind}


def take_baselines(conn: psycopg.Connection, ruleset: RuleSet, now: datetime) -> EvaluationResult:
    """For each (rule, building) not yet baselined since the rule began watching: what is open there now and was
    ingested before monitoring began becomes a baseline alert (records that arrived since are the run
    evaluations' news). Buildings with nothing open are recorded too, so this runs once per pair."""
    rules = [rule for rule in ruleset.rules if rule.condition.type in _BASELINED]
    if not rules:
        return EvaluationResult()
    # A pass records every building of a rule's scope at once: a rule whose last pass came after it began
    # watching and after its newest building joined has nothing to do (most rules, on most scheduled passes).
    last_pass = dict(
        conn.execute(
            "SELECT rule_id, max(taken_at) FROM alert_baselines WHERE rule_id = ANY(%s) GROUP BY rule_id",
            ([r.id for r in rules],),
        ).fetchall()
    )
    began: dict[tuple[int, str], datetime] = {}
    todo: list[AlertRule] = []
    for rule in rules:
        newest = NEVER
        for bbl in ruleset.directory.bbls(rule.org_id, rule.scope):
            parts = (rule.monitoring_since, ruleset.directory.watched_since(rule.org_id, rule.scope, bbl))
            began[(rule.id, bbl)] = at = max((p for p in parts if p is not None), default=NEVER)
            newest = max(newest, at)
        if rule.id not in last_pass or last_pass[rule.id] < newest:
            todo.append(rule)
    if not todo:
        return EvaluationResult()
    taken = {
        (rule_id, bbl.strip()): at
        for rule_id, bbl, at in conn.execute(
            "SELECT rule_id, bbl, taken_at FROM alert_baselines WHERE rule_id = ANY(%s)", ([r.id for r in todo],)
        )
    }
    pending: list[tuple[AlertRule, str]] = []
    for rule in todo:
        for bbl in sorted(ruleset.directory.bbls(rule.org_id, rule.scope)):
            at = taken.get((rule.id, bbl))
            if at is None or at < began[(rule.id, bbl)]:
                pending.append((rule, bbl))
    if not pending:
        return EvaluationResult()
    result = EvaluationResult()
    for kind in sorted({_BASELINED[rule.condition.type] for rule, _ in pending}):
        pairs = {(rule.id, bbl) for rule, bbl in pending if _BASELINED[rule.condition.type] == kind}
        bbls = sorted({bbl for _, bbl in pairs})
        events = history.open_records(conn, kind, bbls)
        kind_rules = [rule for rule in rules if _BASELINED[rule.condition.type] == kind]
        hits = RuleIndex(kind_rules, ruleset.directory).hits(events, now)
        hits = [hit for hit in hits if (hit.rule.id, hit.match.bbl) in pairs]
        watch = Watch(ruleset.directory, synced_datasets(conn))
        _, old = split(unknown(conn, hits), watch, now)
        result.add(store(conn, ruleset, [], now, candidates(old, baseline=True)))
    conn.execute(
        "INSERT INTO alert_baselines (rule_id, bbl, taken_at) SELECT * FROM unnest(%s::bigint[], %s::char(10)[],"
        " %s::timestamptz[]) ON CONFLICT (rule_id, bbl) DO UPDATE SET taken_at = EXCLUDED.taken_at",
        ([rule.id for rule, _ in pending], [bbl for _, bbl in pending], [now] * len(pending)),
    )
    return result


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def evaluate_run(conn: psycopg.Connection, run_id: int, now: datetime | None = None) -> EvaluationResult:
    """Alerts for what ingestion run `run_id` inserted or changed; running it again creates nothing. What the
    run brought that was there before monitoring began (a dataset's first sync, records older than the rule or
    the building's place in the portfolio) becomes baseline alerts, which notify nobody."""
    now = _now(now)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_EVAL_LOCK,))
        ruleset = load_rules(conn)
        if not ruleset.of_kinds(ViolationChange.kind, ComplaintChange.kind):
            return EvaluationResult()
        events = run_events(conn, run_id)
        hits = RuleIndex(ruleset.rules, ruleset.directory).hits(events, now)
        result = _store_hits(conn, ruleset, hits, now)
    result.events, result.candidates = len(events), len(hits)
    log.info(
        "run evaluated",
        extra={"run_id": run_id, "events": len(events), "alerts": result.alerts_created, "baseline": result.baseline},
    )
    return result


def evaluate_scores(
    conn: psycopg.Connection, now: datetime | None = None, since: datetime | None = None
) -> EvaluationResult:
    """Alerts for the watched buildings' scores stored since `since` (default: the last day), each against the
    building's score of the day before: run after a scoring (the rescore of changed buildings, the daily score of
    every lot) so that a `risk_score` rule fires when its score crosses, not only in a dry-run. Evaluating the
    same scores again creates nothing (an alert's key holds the score's day); a building's first score is its
    baseline (sentinel.alerts.baseline)."""
    now = _now(now)
    since = since or now - timedelta(days=1)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_EVAL_LOCK,))
        ruleset = load_rules(conn)
        bbls = ruleset.watched(ScoreChange.kind)
        if not bbls:
            return EvaluationResult()
        events = history.score_changes_since(conn, bbls, since)
        hits = RuleIndex(ruleset.rules, ruleset.directory).hits(events, now)
        result = _store_hits(conn, ruleset, hits, now)
    result.events, result.candidates = len(events), len(hits)
    log.info("scores evaluated", extra={"events": len(events), "alerts": result.alerts_created})
    return result


def _scan_events(
    conn: psycopg.Connection, ruleset: RuleSet, now: datetime, expected_every: Mapping[str, timedelta] | None
) -> list[Event]:
    events: list[Event] = []
    events += open_violations(conn, ruleset.watched(OpenViolation.kind))
    events += balances(conn, ruleset.watched(BuildingBalance.kind), now)
    if ruleset.of_kinds(DatasetFreshness.kind):
        events += freshness(conn, expected_every)
    return events


def evaluate_time_based(
    conn: psycopg.Connection, now: datetime | None = None, expected_every: Mapping[str, timedelta] | None = None
) -> EvaluationResult:
    """The scheduled checks: approaching and overdue deadlines, penalty balances, stale source datasets; and the
    baseline of rules and buildings that started being watched since the last pass."""
    now = _now(now)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_EVAL_LOCK,))
        ruleset = load_rules(conn)
        result = take_baselines(conn, ruleset, now)
        events = _scan_events(conn, ruleset, now, expected_every)
        hits = RuleIndex(ruleset.rules, ruleset.directory).hits(events, now)
        result.add(_store_hits(conn, ruleset, hits, now))
    result.events, result.candidates = len(events), len(hits)
    log.info(
        "time-based checks evaluated",
        extra={"events": len(events), "alerts": result.alerts_created, "baseline": result.baseline},
    )
    return result


def evaluate_rules(
    conn: psycopg.Connection,
    rule_ids: Iterable[int],
    now: datetime | None = None,
    since: datetime | None = None,
    expected_every: Mapping[str, timedelta] | None = None,
) -> EvaluationResult:
    """Evaluate some rules now ("evaluate now" in the API): their baseline if not taken yet, what ingestion
    brought to their buildings since `since` (default: the last day), the scores stored since then, and their
    time-based checks. The same
    path as the scheduled evaluations: the lock, the unique keys, the cooldown and the outbox, so nothing is
    created or notified twice whoever evaluates first."""
    now = _now(now)
    since = since or now - timedelta(days=1)
    wanted = set(rule_ids)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_EVAL_LOCK,))
        everything = load_rules(conn)
        ruleset = RuleSet(tuple(r for r in everything.rules if r.id in wanted), everything.directory)
        result = take_baselines(conn, ruleset, now)
        events: list[Event] = []
        for kind in (ViolationChange.kind, ComplaintChange.kind):
            events += history.ingested_between(conn, kind, ruleset.watched(kind), since, now)
        if ruleset.of_kinds(ScoreChange.kind):
            events += history.score_changes_since(conn, ruleset.watched(ScoreChange.kind), since)
        if ruleset.of_kinds(OpenViolation.kind, DatasetFreshness.kind):
            events += _scan_events(conn, RuleSet(ruleset.of_kinds(OpenViolation.kind, DatasetFreshness.kind),
                                                 ruleset.directory), now, expected_every)  # fmt: skip
        if ruleset.of_kinds(BuildingBalance.kind):
            # Balances move the snapshot every scheduled scan compares with: only that scan reads them.
            log.info("balance rules are evaluated by the scheduled scan", extra={"rules": sorted(wanted)})
        hits = RuleIndex(ruleset.rules, ruleset.directory).hits(events, now)
        result.add(_store_hits(conn, ruleset, hits, now))
    result.events, result.candidates = len(events), len(hits)
    return result
