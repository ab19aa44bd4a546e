"""An alert rule as stored in `alert_rules`: condition, scope, channels, delivery, quiet hours, cooldown."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sentinel.alerts.conditions import Condition
from sentinel.alerts.scope import Scope
from sentinel.channels.base import ChannelKind

DEFAULT_TIMEZONE = "America/New_York"
Delivery = Literal["immediate", "hourly", "daily"]


class ChannelTarget(BaseModel):
    """Where a rule sends: an email address, a phone number, a Slack or webhook URL (empty: the default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ChannelKind
    target: str = ""


class QuietHours(BaseModel):
    """Local wall-clock window (in the organization's time zone) in which nothing is sent; what falls into it
    is sent when it ends. `start > end` wraps midnight (22:00-07:00); `start == end` means no quiet hours."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time


class AlertRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: int
    org_id: int
    name: str = Field(min_length=1, max_length=200)
    condition: Condition
    scope: Scope
    channels: tuple[ChannelTarget, ...] = ()
    delivery: Delivery = "immediate"
    quiet_hours: QuietHours | None = None
    cooldown_minutes: int = Field(default=0, ge=0)
    enabled: bool = True
    # organizations.timezone, joined in by the loader: quiet hours and digests are local.
    timezone: str = DEFAULT_TIMEZONE
    # When the rule started watching (alert_rules.monitoring_since): what happened before is its baseline.
    monitoring_since: datetime | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], timezone: str | None = None) -> AlertRule:
        """From an `alert_rules` row (jsonb columns already decoded), plus the organization's time zone."""
        data = dict(row)
        if timezone is not None:
            data["timezone"] = timezone
        return cls.model_validate(data)
