"""When a notification goes out: immediately or at the next digest time, and never inside quiet hours.

All wall-clock reasoning happens in the organization's zone with zoneinfo, so a window that spans a DST change
ends at the right local time; results are returned as aware datetimes in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sentinel.alerts.rules import AlertRule, Delivery, QuietHours

DEFAULT_DIGEST_TIME = time(8, 0)


def _local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    # A wall time that does not exist (02:30 on the spring-forward day) resolves with the pre-change offset,
    # i.e. it lands just after the gap; an ambiguous one (01:30 in the fall) takes its first occurrence.
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def quiet_window_end(at: datetime, quiet: QuietHours | None, zone: ZoneInfo) -> datetime | None:
    """The end of the quiet window `at` falls in, or None when `at` is outside quiet hours."""
    if quiet is None or quiet.start == quiet.end:
        return None
    local = at.astimezone(zone)
    now = local.time().replace(tzinfo=None)
    if quiet.start < quiet.end:  # same-day window, e.g. 12:00-14:00
        inside = quiet.start <= now < quiet.end
        end_day = local.date()
    elif now >= quiet.start:  # wraps midnight, evening part: ends tomorrow morning
        inside, end_day = True, local.date() + timedelta(days=1)
    else:  # wraps midnight, morning part: ends this morning
        inside, end_day = now < quiet.end, local.date()
    return _local_instant(end_day, quiet.end, zone) if inside else None


def release_time(at: datetime, quiet: QuietHours | None, zone: ZoneInfo) -> datetime:
    """`at`, or the end of the quiet window it falls in: deferred, never dropped."""
    return quiet_window_end(at, quiet, zone) or at.astimezone(UTC)


def digest_due(at: datetime, delivery: Delivery, zone: ZoneInfo, daily_at: time = DEFAULT_DIGEST_TIME) -> datetime:
    """When the digest that collects an alert created at `at` is sent."""
    if delivery == "immediate":
        return at.astimezone(UTC)
    local = at.astimezone(zone)
    if delivery == "hourly":
        # Floor in local time (zones with half-hour offsets), then step in UTC (no DST arithmetic surprises).
        return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC) + timedelta(hours=1)
    due = _local_instant(local.date(), daily_at, zone)
    if due <= at:
        due = _local_instant(local.date() + timedelta(days=1), daily_at, zone)
    return due


def delivery_time(rule: AlertRule, created_at: datetime, daily_at: time = DEFAULT_DIGEST_TIME) -> datetime:
    """When the notifications of an alert created at `created_at` by `rule` become due."""
    zone = rule.zone
    return release_time(digest_due(created_at, rule.delivery, zone, daily_at), rule.quiet_hours, zone)
