"""Alert rules and their evaluation: pure functions over plain data (no database, no Ray)."""

from sentinel.alerts.evaluate import AlertCandidate, DryRun, RuleIndex, dry_run, evaluate
from sentinel.alerts.rules import AlertRule, ChannelTarget, QuietHours
from sentinel.alerts.scope import PortfolioDirectory

__all__ = [
    "AlertCandidate",
    "AlertRule",
    "ChannelTarget",
    "DryRun",
    "PortfolioDirectory",
    "QuietHours",
    "RuleIndex",
    "dry_run",
    "evaluate",
]
