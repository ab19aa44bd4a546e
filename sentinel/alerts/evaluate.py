"""Evaluate rules against events: pure, and proportional to matches rather than rules x events.

The index maps (event kind, BBL) to the rules that watch that building for that kind of event, so each event
looks at only the rules that could fire for it. Building the index costs the sum of the rules' scope sizes;
the engine keeps one per evaluation pass, the API dry-run builds one for a single rule.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sentinel.alerts.conditions import EVENT_KIND
from sentinel.alerts.events import Event
from sentinel.alerts.keys import ORG_WIDE_BBL
from sentinel.alerts.matchers import MATCHERS, Clock, Match, record_of, where
from sentinel.alerts.rules import AlertRule
from sentinel.alerts.scope import PortfolioDirectory

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


class RuleIndex:
    def __init__(self, rules: Iterable[AlertRule], directory: PortfolioDirectory | None = None) -> None:
        directory = directory or PortfolioDirectory()
        self._by_building: dict[str, dict[str, list[AlertRule]]] = defaultdict(lambda: defaultdict(list))
        self._unscoped: dict[str, list[AlertRule]] = defaultdict(list)
        self.rule_count = 0
        for rule in rules:
            if not rule.enabled:
                continue
            self.rule_count += 1
            kind = EVENT_KIND[rule.condition.type]
            if kind in _UNSCOPED_KINDS:
                self._unscoped[kind].append(rule)
                continue
            per_bbl = self._by_building[kind]
            for bbl in directory.bbls(rule.org_id, rule.scope):
                per_bbl[bbl].append(rule)

    def rules_for(self, event: Event) -> list[AlertRule]:
        if event.kind in _UNSCOPED_KINDS:
            return self._unscoped.get(event.kind, [])
        per_bbl = self._by_building.get(event.kind)
        return per_bbl.get(event.bbl, []) if per_bbl else []  # type: ignore[union-attr]

    def evaluate(self, events: Iterable[Event], now: datetime) -> list[AlertCandidate]:
        """Every (rule, match) the events produce, in event order; duplicates of the same
        (rule, bbl, trigger_key) within the batch are dropped, as the database would."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        seen: set[tuple[int, str, str]] = set()
        out: list[AlertCandidate] = []
        clocks: dict[str, Clock] = {}
        seen: set[tuple[int, str, str]] = set()
        out: list[AlertCandidate] = []
        for event in events:
            rules = self.rules_for(event)
            if not rules:
                continue
            record: dict[str, Any] | None = None  # built once per event, only if something matches
            for rule in rules:
                clock = clocks.get(rule.timezone)
                if clock is None:
                    clock = clocks[rule.timezone] = Clock(now, now.astimezone(ZoneInfo(rule.timezone)).date())
                for match in MATCHERS[rule.condition.type](rule.condition, event, clock):
                    dedup = (rule.id, match.bbl, match.trigger_key)
                    if dedup in seen:
                        continue
                    seen.add(dedup)
                    if record is None:
                        record = record_of(event)
                    out.append(_candidate(rule, match, record))
        return out


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
) -> DryRun:
    """ "Would have fired N times": replay (evaluation time, events) batches, e.g. one per past day, and count
    distinct alerts the way the database would (a deadline seen on seven scans is one alert)."""
    index = RuleIndex([rule], directory)
    keys: set[tuple[str, str]] = set()
    samples: list[AlertCandidate] = []
    for now, events in batches:
        for candidate in index.evaluate(events, now):
            key = (candidate.bbl, candidate.trigger_key)
            if key in keys:
                continue
            keys.add(key)
            if len(samples) < sample_size:
                samples.append(candidate)
    return DryRun(len(keys), samples)


def _candidate(rule: AlertRule, match: Match, record: dict[str, Any]) -> AlertCandidate:
    payload = {
        "event_type": match.event_type,
        "rule": {"id": rule.id, "name": rule.name, "condition": rule.condition.type},
        "bbl": match.bbl,
        "address": match.address,
        "location": None if match.bbl == ORG_WIDE_BBL else where(match.bbl, match.address),
        "summary": match.summary,
        "record": dict(record),  # one copy per alert: payloads are handed on separately
    }
    return AlertCandidate(rule.id, rule.org_id, match.bbl, match.trigger_key, match.title, payload)
