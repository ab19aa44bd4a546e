"""Cooldown per (rule, building): after a notification, the same rule stays silent for that building a while."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sentinel.alerts.evaluate import AlertCandidate
from sentinel.alerts.rules import AlertRule


@dataclass(frozen=True)
class CooldownDecision:
    notify: list[AlertCandidate]
    silenced: list[AlertCandidate]


def apply_cooldown(
    candidates: Sequence[AlertCandidate],
    rules: Mapping[int, AlertRule],
    last_notified: MutableMapping[tuple[int, str], datetime],
    now: datetime,
) -> CooldownDecision:
    """Split candidates, in order, into those that notify and those the cooldown silences.

    A silenced candidate still becomes an alert (the feed shows it, its unique key still dedups it); it only
    sends nothing. So a burst of ten violations in one building is one message and nothing is lost.
    `last_notified` ((rule_id, bbl) -> last notification time, from the alerts table) is updated in place.
    """
    notify: list[AlertCandidate] = []
    silenced: list[AlertCandidate] = []
    for candidate in candidates:
        rule = rules[candidate.rule_id]
        key = (candidate.rule_id, candidate.bbl)
        last = last_notified.get(key)
        cooling = (
            rule.cooldown_minutes > 0 and last is not None and now - last < timedelta(minutes=rule.cooldown_minutes)
        )
        if cooling:
            silenced.append(candidate)
        else:
            notify.append(candidate)
            last_notified[key] = now
    return CooldownDecision(notify, silenced)
