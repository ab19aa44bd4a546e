"""From alerts to outgoing messages: one per alert and channel when immediate, one per digest otherwise.

A digest collects every alert of an organization bound for the same channel target and due at the same time,
across rules, so a manager gets one morning email rather than one per rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sentinel.alerts.render import AlertView, render, render_digest
from sentinel.alerts.rules import AlertRule, Delivery
from sentinel.alerts.schedule import DEFAULT_DIGEST_TIME, delivery_time
from sentinel.channels.base import ChannelKind, Notification


@dataclass(frozen=True)
class Outgoing:
    """One alert bound for one channel target at `due_at` (a row of the notifications outbox)."""

    alert: AlertView
    channel: ChannelKind
    target: str
    delivery: Delivery
    due_at: datetime


@dataclass(frozen=True)
class Batch:
    org_id: int
    channel: ChannelKind
    target: str
    delivery: Delivery
    due_at: datetime
    alerts: tuple[AlertView, ...]

    def payload(self) -> dict[str, Any]:
        if self.delivery == "immediate":
            return render(self.alerts[0], self.channel)
        return render_digest(self.alerts, self.channel, self.delivery)

    def notification(self) -> Notification:
        """What a channel's `send` takes; a single alert keeps its id so delivery logs point at it."""
        alert_id = self.alerts[0].alert_id if len(self.alerts) == 1 else None
        return Notification(self.channel, self.target, self.payload(), alert_id=alert_id, org_id=self.org_id)


@dataclass(frozen=True)
class Route:
    """Where and when every alert `rule` creates at one instant goes: the same for all of them."""

    channel: ChannelKind
    target: str
    delivery: Delivery
    due_at: datetime


def routes(rule: AlertRule, created_at: datetime, daily_at: time = DEFAULT_DIGEST_TIME) -> list[Route]:
    """Each distinct channel target of the rule (a rule naming one twice sends once), due after digest and
    quiet hours."""
    due = delivery_time(rule, created_at, daily_at)
    targets = dict.fromkeys((c.kind, c.target) for c in rule.channels)
    return [Route(kind, target, rule.delivery, due) for kind, target in targets]


def plan(
    rule: AlertRule, alert: AlertView, created_at: datetime, daily_at: time = DEFAULT_DIGEST_TIME
) -> list[Outgoing]:
    """The outbox rows for a new alert: each of the rule's channels, due after digest and quiet hours."""
    return [Outgoing(alert, r.channel, r.target, r.delivery, r.due_at) for r in routes(rule, created_at, daily_at)]


def group(outgoing: Iterable[Outgoing]) -> list[Batch]:
    """Immediate items stay single; digest items are merged per (org, channel, target, delivery, due time).
    Order is preserved: batches by first appearance, alerts in arrival order within a batch."""
    batches: dict[tuple[Any, ...], list[Outgoing]] = {}
    for i, item in enumerate(outgoing):
        key: tuple[Any, ...] = (item.alert.org_id, item.channel, item.target, item.delivery, item.due_at)
        if item.delivery == "immediate":
            key = (*key, i)  # never merged
        batches.setdefault(key, []).append(item)
    return [
        Batch(
            items[0].alert.org_id,
            items[0].channel,
            items[0].target,
            items[0].delivery,
            items[0].due_at,
            tuple(item.alert for item in items),
        )
        for items in batches.values()
    ]
