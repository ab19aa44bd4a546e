"""A rule alerts on what happens after it starts watching; what was already there is its baseline.

Each hit gets two instants:

- when it *happened* (`occurred_at`): the record's first ingestion for a new record, the observed change for a
  status change, the city's midnight that put a deadline inside the rule's window (or past due), the moment a
  dataset went stale. A record that came with its dataset's first sync was not news when it arrived: only the
  date of the thing itself counts for it, so a deadline that enters the window months after the first load is
  news then, and one that was overdue before it is not. A score change happened when the score was stored; a
  building's first score (or balance) was already what it is: never news.
- when the rule began *watching* that building (`monitoring_began`): the latest of the rule's
  `monitoring_since`, the day the building joined the watched portfolio, and the end of the record's dataset's
  first sync.

A hit that happened before monitoring began is a baseline alert ("already open when monitoring began"): the
feed shows it, nobody is notified, and its unique key keeps it from ever being notified later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from sentinel.alerts.conditions import DeadlineApproaching, DeadlineOverdue, SourceStale
from sentinel.alerts.evaluate import Hit
from sentinel.alerts.events import (
    BuildingBalance,
    ComplaintChange,
    DatasetFreshness,
    OpenViolation,
    ScoreChange,
    ViolationChange,
)
from sentinel.alerts.keys import deadline_of
from sentinel.alerts.scope import PortfolioDirectory
from sentinel.datasets import DatasetConfig, load_datasets
from sentinel.deadlines import city_midnight, overdue_since

NEVER = datetime.min.replace(tzinfo=UTC)
FOREVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Watch:
    """When monitoring began, per part: buildings (the directory), and datasets' first syncs, keyed by
    (table, source) as records carry them. A dataset absent from `synced` was never read by the pipeline."""

    directory: PortfolioDirectory = field(default_factory=PortfolioDirectory)
    synced: Mapping[tuple[str, str], datetime] = field(default_factory=dict)
    # (scope, bbl) -> when the building entered the scope: a run's hits repeat few of them many times. Scopes are
    # numbered once per rule, as hashing a scope model for every hit cost more than the rest of the check.
    _since: dict[tuple[int, str], datetime | None] = field(default_factory=dict, compare=False, repr=False)
    _scope_no: dict[int, int] = field(default_factory=dict, compare=False, repr=False)
    _scopes: dict[tuple[int, Any], int] = field(default_factory=dict, compare=False, repr=False)

    def dataset_synced(self, event: object) -> datetime | None:
        table = _TABLE.get(type(event))
        source = getattr(event, "source", None)
        if table is None or source is None:
            return None
        return self.synced.get((table, source))

    def monitoring_began(self, hit: Hit, synced: datetime | None = None) -> datetime:
        """The latest of the rule's start, the building's joining its scope and the dataset's first sync
        (`synced`, as `dataset_synced` gives it for the hit's record)."""
        rule, bbl = hit.rule, hit.match.bbl
        scope_no = self._scope_no.get(rule.id)
        if scope_no is None:
            scope_no = self._scope_no[rule.id] = self._scopes.setdefault((rule.org_id, rule.scope), len(self._scopes))
        key = (scope_no, bbl)
        if key not in self._since:
            self._since[key] = self.directory.watched_since(rule.org_id, rule.scope, bbl)
        began = rule.monitoring_since or NEVER
        for part in (self._since[key], synced):
            if part is not None and part > began:
                began = part
        return began


_TABLE: dict[type, str] = {ViolationChange: "violations", OpenViolation: "violations", ComplaintChange: "complaints"}


def _due(trigger_key: str) -> date:
    parsed = deadline_of(trigger_key)
    assert parsed is not None, trigger_key
    return parsed[1]


def occurred_at(hit: Hit, now: datetime, synced: datetime | None = None) -> datetime:
    """When what `hit` reports happened (see the module docstring); `synced`: the end of the record's
    dataset's first sync, if the pipeline read it."""
    event, match, cond = hit.event, hit.match, hit.rule.condition
    first_seen = getattr(event, "first_seen_at", None)
    first_sync = synced is not None and (first_seen is None or first_seen < synced)
    known = NEVER if first_sync or first_seen is None else first_seen
    kind = match.event_type
    if kind in ("violation.new", "complaint.new"):
        when = first_seen or getattr(event, "observed_at", None) or NEVER
    elif kind.startswith("violation."):
        when = getattr(event, "observed_at", None) or NEVER
    elif kind == "deadline.overdue" and isinstance(cond, DeadlineOverdue):
        when = overdue_since(_due(match.trigger_key), cond.grace_days)
    elif kind.startswith("deadline.") and isinstance(cond, DeadlineApproaching):
        when = city_midnight(_due(match.trigger_key) - timedelta(days=cond.within_days))
    elif isinstance(event, BuildingBalance):
        # A balance first scanned above the threshold was already above it.
        when = NEVER if event.previous_balance_due is None else now
    elif isinstance(event, ScoreChange):
        # Likewise a building's first score: it was that high before anyone scored it.
        when = NEVER if event.old_score is None else event.computed_at or now
    elif isinstance(event, DatasetFreshness) and isinstance(cond, SourceStale):
        when = event.last_updated_at + event.expected_every + timedelta(hours=cond.grace_hours)
    else:
        when = now
    return max(when, known)


def split(hits: Iterable[Hit], watch: Watch, now: datetime) -> tuple[list[Hit], list[Hit]]:
    """(news, baseline), each in the order given."""
    news: list[Hit] = []
    baseline: list[Hit] = []
    for hit in hits:
        synced = watch.dataset_synced(hit.event)
        happened = occurred_at(hit, now, synced)
        (news if happened >= watch.monitoring_began(hit, synced) else baseline).append(hit)
    return news, baseline


def synced_datasets(
    conn: psycopg.Connection, datasets: Mapping[str, DatasetConfig] | None = None
) -> dict[tuple[str, str], datetime]:
    """(table, source) -> when its dataset's first sync ended: the last of its partitions' first finished
    reads, or FOREVER while any partition has not finished one (a first sync still running or interrupted)."""
    catalog = datasets if datasets is not None else load_datasets()
    out: dict[tuple[str, str], datetime] = {}
    rows = conn.execute(
        "SELECT dataset, bool_and(synced_at IS NOT NULL), max(synced_at) FROM watermarks GROUP BY dataset"
    ).fetchall()
    for dataset, all_synced, last in rows:
        config = catalog.get(dataset)
        if config is None or config.source is None:
            continue
        out[(config.target_table, config.source)] = last if all_synced else FOREVER
    return out
