"""Alert rules and their evaluation: pure functions over plain data (no database, no Ray).

The engine (a Ray actor) and the API's dry-run call the same functions:

    index = RuleIndex(rules, PortfolioDirectory.from_rows(rows))   # once per pass
    candidates = index.evaluate(events, now)                       # -> [AlertCandidate]
    decision = apply_cooldown(candidates, rules_by_id, last_notified, now)
    outgoing = plan(rule, AlertView.from_candidate(c, alert_id), created_at)  # outbox rows, due times
    for batch in group(due_outgoing): channel.send(batch.notification())
"""

from sentinel.alerts.cooldown import CooldownDecision, apply_cooldown
from sentinel.alerts.digest import Batch, Outgoing, group, plan
from sentinel.alerts.evaluate import AlertCandidate, DryRun, RuleIndex, dry_run, evaluate
from sentinel.alerts.events import (
    BuildingBalance,
    ComplaintChange,
    DatasetFreshness,
    Event,
    OpenViolation,
    ScoreChange,
    ViolationChange,
)
from sentinel.alerts.keys import ORG_WIDE_BBL
from sentinel.alerts.render import AlertView, render, render_digest
from sentinel.alerts.rules import AlertRule, ChannelTarget, QuietHours
from sentinel.alerts.schedule import delivery_time, digest_due, release_time
from sentinel.alerts.scope import PortfolioDirectory

__all__ = [
    "ORG_WIDE_BBL",
    "AlertCandidate",
    "AlertRule",
    "AlertView",
    "Batch",
    "BuildingBalance",
    "ChannelTarget",
    "ComplaintChange",
    "CooldownDecision",
    "DatasetFreshness",
    "DryRun",
    "Event",
    "OpenViolation",
    "Outgoing",
    "PortfolioDirectory",
    "QuietHours",
    "RuleIndex",
    "ScoreChange",
    "ViolationChange",
    "apply_cooldown",
    "delivery_time",
    "digest_due",
    "dry_run",
    "evaluate",
    "group",
    "plan",
    "release_time",
    "render",
    "render_digest",
]
