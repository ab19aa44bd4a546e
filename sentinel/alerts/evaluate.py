"""Evaluate rules against events: pure, and proportional to matches rather than rules x events.

The index maps (event kind, BBL) to the rules that watch that building for that kind of event, so each event
looks at only the rules that could fire for it. Building the index costs the sum of the rules' scope sizes;
the engine keeps one per evaluation pass, the API dry-run builds one for a single rule.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sentinel.alerts.conditions import EVENT_KIND
from sentinel.alerts.events import Event
from sentinel.alerts.keys import ORG_WIDE_BBL
from sentinel.alerts.matchers import MATCHERS, Clock, Match, Matcher, record_of, where
from sentinel.alerts.rules import AlertRule
from sentinel.alerts.scope import PortfolioDirectory
from sentinel.deadlines import city_today

# Events without a building (dataset freshness) reach every rule of their kind.
_UNSCOPED_KINDS = frozenset({"dataset_freshness"})


@dataclass(frozen=True, slots=True)
class AlertCandidate:
    """A would-be row of `alerts`; the database's UNIQUE (rule_id, bbl, trigger_key) makes inserting it once."""

    rule_id: int
    org_id: int
    bbl: str
    trigger_key: str
    title: str
    payload: dict[str, Any] = field(hash=False, compare=False)
    # Already there when monitoring began (sentinel.alerts.baseline): stored and shown, never notified.
    baseline: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule an event matched: its alert's unique key is known before its payload is built."""

    rule: AlertRule
    match: Match
    event: Event

    @property
    def key(self) -> tuple[int, str, str]:
        return self.rule.id, self.match.bbl, self.match.trigger_key


@dataclass(frozen=True, slots=True)
class _Entry:
    rule: AlertRule
    matcher: Matcher
    condition: Any  # the canonical object among equal conditions
    slot: int  # (condition, time zone): rules sharing a slot get the same matches from an event
    position: int  # in the rules given: the order an event meets them


class RuleIndex:
    def __init__(self, rules: Iterable[AlertRule], directory: PortfolioDirectory | None = None) -> None:
        directory = directory or PortfolioDirectory()
        slots: dict[tuple[Any, str], int] = {}
        # Rules of one organization with one scope watch the same buildings: resolve each scope once, and give
        # buildings watched by the same groups one shared tuple.
        groups: dict[tuple[str, int, Any], list[_Entry]] = defaultdict(list)
        self._unscoped: dict[str, list[_Entry]] = defaultdict(list)
        self.rule_count = 0
        for rule in rules:
            if not rule.enabled:
                continue
            self.rule_count += 1
            slot = slots.setdefault((rule.condition, rule.timezone), len(slots))
            entry = _Entry(rule, MATCHERS[rule.condition.type], rule.condition, slot, self.rule_count)
            kind = EVENT_KIND[rule.condition.type]
            if kind in _UNSCOPED_KINDS:
                self._unscoped[kind].append(entry)
            else:
                groups[(kind, rule.org_id, rule.scope)].append(entry)
        group_ids: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        members = list(groups.values())
        for gid, (kind, org_id, scope) in enumerate(groups):
            per_bbl = group_ids[kind]
            for bbl in directory.bbls(org_id, scope):
                per_bbl[bbl].append(gid)
        shared: dict[tuple[int, ...], tuple[_Entry, ...]] = {}
        self._by_building: dict[str, dict[str, tuple[_Entry, ...]]] = {}
        for kind, per_bbl in group_ids.items():
            out = self._by_building[kind] = {}
            for bbl, gids in per_bbl.items():
                key = tuple(gids)
                entries = shared.get(key)
                if entries is None:
                    entries = shared[key] = tuple(sorted((e for g in key for e in members[g]), key=_position))
                out[bbl] = entries

    def _entries_for(self, event: Event) -> Sequence[_Entry]:
        if event.kind in _UNSCOPED_KINDS:
            return self._unscoped.get(event.kind, ())
        per_bbl = self._by_building.get(event.kind)
        return per_bbl.get(event.bbl, ()) if per_bbl else ()  # type: ignore[union-attr]

    def rules_for(self, event: Event) -> list[AlertRule]:
        return [entry.rule for entry in self._entries_for(event)]

    def hits(self, events: Iterable[Event], now: datetime) -> list[Hit]:
        """Every (rule, match) the events produce, in event order; duplicates of the same
        (rule, bbl, trigger_key) within the batch are dropped, as the database would."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        # Deadlines are city dates, whatever the organization's zone (which only places quiet hours and digests).
        clock = Clock(now, city_today(now))
        seen: set[tuple[int, str, str]] = set()
        out: list[Hit] = []
        for event in events:
            entries = self._entries_for(event)
            if not entries:
                continue
            # Matchers are pure in (condition, event, clock): rules with equal conditions in one zone share a call.
            matched: dict[int, list[Match]] = {}
            for entry in entries:
                matches = matched.get(entry.slot)
                if matches is None:
                    matches = matched[entry.slot] = entry.matcher(entry.condition, event, clock)
                for match in matches:
                    dedup = (entry.rule.id, match.bbl, match.trigger_key)
                    if dedup in seen:
                        continue
                    seen.add(dedup)
                    out.append(Hit(entry.rule, match, event))
        return out

    def evaluate(self, events: Iterable[Event], now: datetime) -> list[AlertCandidate]:
        """The candidates of `hits(events, now)`."""
        return candidates(self.hits(events, now))


def candidates(hits: Iterable[Hit], *, baseline: bool = False) -> list[AlertCandidate]:
    """The would-be alert rows of `hits` (each event's record is converted once, however many rules it hit)."""
    out: list[AlertCandidate] = []
    event: Any = None
    record: dict[str, Any] = {}
    for hit in hits:
        if hit.event is not event:
            event, record = hit.event, record_of(hit.event)
        out.append(_candidate(hit.rule, hit.match, record, baseline))
    return out


def _position(entry: _Entry) -> int:
    return entry.position


def evaluate(
    rule: AlertRule,
    events: Iterable[Event],
    now: datetime,
    directory: PortfolioDirectory | None = None,
) -> list[AlertCandidate]:
    """The candidates one rule produces from `events` at `now`."""
    return RuleIndex([rule], directory).evaluate(events, now)


@dataclass(frozen=True)
class DryRun:
    fired: int
    samples: list[AlertCandidate]


def dry_run(
    rule: AlertRule,
    batches: Iterable[tuple[datetime, Iterable[Event]]],
    directory: PortfolioDirectory | None = None,
    sample_size: int = 5,
    since: datetime | None = None,
) -> DryRun:
    """ "Would have fired N times": replay (evaluation time, events) batches, e.g. one per past day, and count
    distinct alerts the way the database would (a deadline seen on seven scans is one alert). With `since` (the
    window's start, as if the rule had begun watching then), what had already happened before it is the rule's
    baseline and not counted (a deadline overdue for a year does not "fire" in the last 30 days).

    Examples show each alert as the last replayed day saw it, so "days past due" is as of today."""
    from sentinel.alerts.baseline import occurred_at

    index = RuleIndex([rule], directory)
    latest: dict[tuple[str, str], AlertCandidate] = {}
    for now, events in batches:
        hits = index.hits(events, now)
        if since is not None:
            hits = [hit for hit in hits if occurred_at(hit, now) >= since]
        for candidate in candidates(hits):
            latest[(candidate.bbl, candidate.trigger_key)] = candidate  # keeps its first place, shows its last day
    samples = list(latest.values())[:sample_size]
    return DryRun(len(latest), samples)


def _candidate(rule: AlertRule, match: Match, record: dict[str, Any], baseline: bool = False) -> AlertCandidate:
    payload = {
        "event_type": match.event_type,
        "rule": {"id": rule.id, "name": rule.name, "condition": rule.condition.type},
        "bbl": match.bbl,
        "address": match.address,
        "location": None if match.bbl == ORG_WIDE_BBL else where(match.bbl, match.address),
        "summary": match.summary,
        "record": dict(record),  # one copy per alert: payloads are handed on separately
    }
    return AlertCandidate(rule.id, rule.org_id, match.bbl, match.trigger_key, match.title, payload, baseline)
