"""What a rule may hold, checked when it is saved: bounded contents (recipients, scope, condition) and channel
targets the notifier is allowed to reach (sentinel.outbound). The engine still runs whatever is stored; these
bounds keep one rule from costing an evaluation pass or a mail server what a thousand would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import getaddresses

from pydantic import BaseModel

from sentinel.alerts.rules import ChannelTarget
from sentinel.alerts.scope import BuildingScope, PortfolioScope
from sentinel.outbound import OutboundPolicy, OutboundRefusedError, check_url


@dataclass(frozen=True)
class RuleLimits:
    max_email_recipients: int = 25  # per email channel
    max_target_chars: int = 2048
    max_scope_bbls: int = 5000  # a portfolio add takes 5,000 references at a time too
    max_scope_portfolios: int = 100
    max_filter_values: int = 50  # per filter (sources, classes, categories, complaint types, datasets)
    max_filter_value_chars: int = 100
    max_condition_bytes: int = 8 * 1024


DEFAULT_LIMITS = RuleLimits()


class RuleRejectedError(ValueError):
    """A rule that may not be saved; `problems` names every field and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def check_rule(
    condition: BaseModel,
    scope: BaseModel,
    channels: Iterable[ChannelTarget],
    policy: OutboundPolicy,
    limits: RuleLimits = DEFAULT_LIMITS,
) -> None:
    problems = [
        *_condition_problems(condition, limits),
        *_scope_problems(scope, limits),
        *_channel_problems(list(channels), policy, limits),
    ]
    if problems:
        raise RuleRejectedError(problems)


def _condition_problems(condition: BaseModel, limits: RuleLimits) -> list[str]:
    data = condition.model_dump(mode="json")
    problems = []
    size = len(json.dumps(data, separators=(",", ":")).encode())
    if size > limits.max_condition_bytes:
        problems.append(f"condition: {size} bytes, at most {limits.max_condition_bytes} allowed")
    for name, value in data.items():
        if not isinstance(value, list):
            continue
        if len(value) > limits.max_filter_values:
            problems.append(f"condition.{name}: {len(value)} values, at most {limits.max_filter_values} allowed")
        long = [v for v in value if isinstance(v, str) and len(v) > limits.max_filter_value_chars]
        if long:
            problems.append(f"condition.{name}: values longer than {limits.max_filter_value_chars} characters")
    return problems


def _scope_problems(scope: BaseModel, limits: RuleLimits) -> list[str]:
    if isinstance(scope, BuildingScope) and len(scope.bbls) > limits.max_scope_bbls:
        return [
            f"scope.bbls: {len(scope.bbls)} buildings, at most {limits.max_scope_bbls} allowed "
            "(put them in a portfolio and scope the rule to it)"
        ]
    if isinstance(scope, PortfolioScope) and len(scope.portfolio_ids) > limits.max_scope_portfolios:
        return [f"scope.portfolio_ids: {len(scope.portfolio_ids)} ids, at most {limits.max_scope_portfolios} allowed"]
    return []


def _channel_problems(channels: list[ChannelTarget], policy: OutboundPolicy, limits: RuleLimits) -> list[str]:
    problems = []
    for i, channel in enumerate(channels):
        where = f"channels[{i}] ({channel.kind})"
        if len(channel.target) > limits.max_target_chars:
            problems.append(f"{where}: the target is longer than {limits.max_target_chars} characters")
            continue
        if channel.kind == "email":
            problems += _email_problems(where, channel.target, limits)
        elif channel.kind in ("webhook", "slack") and channel.target:
            try:
                check_url(channel.target, policy)
            except OutboundRefusedError as exc:
                problems.append(f"{where}: {exc.reason}")
    return problems


def _email_problems(where: str, target: str, limits: RuleLimits) -> list[str]:
    recipients = [addr for _, addr in getaddresses([target]) if addr]
    if not recipients:
        return [f"{where}: no email address"]
    if len(recipients) > limits.max_email_recipients:
        return [f"{where}: {len(recipients)} recipients, at most {limits.max_email_recipients} allowed"]
    bad = [addr for addr in recipients if "@" not in addr]
    return [f"{where}: not an email address: {bad[0][:100]!r}"] if bad else []
