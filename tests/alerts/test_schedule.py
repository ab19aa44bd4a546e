"""Quiet hours (DST-aware), digest times, cooldown."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from sentinel.alerts import QuietHours
from sentinel.alerts.cooldown import apply_cooldown
from sentinel.alerts.evaluate import AlertCandidate
from sentinel.alerts.schedule import delivery_time, digest_due, release_time
from tests.alerts.factories import BBL_A, BBL_B, rule

NY = ZoneInfo("America/New_York")
NIGHT = QuietHours(start=time(22, 0), end=time(7, 0))
LUNCH = QuietHours(start=time(12, 0), end=time(13, 30))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


QUIET_CASES = [
    # (case, quiet hours, created at (UTC), due at (UTC))
    ("daytime passes straight through", NIGHT, utc(2026, 1, 15, 17), utc(2026, 1, 15, 17)),
    ("23:00 EST waits until 07:00 EST", NIGHT, utc(2026, 1, 16, 4), utc(2026, 1, 16, 12)),
    ("05:00 EST waits until 07:00 the same morning", NIGHT, utc(2026, 1, 16, 10), utc(2026, 1, 16, 12)),
    ("07:00 sharp is outside", NIGHT, utc(2026, 1, 16, 12), utc(2026, 1, 16, 12)),
    ("22:00 sharp is inside", NIGHT, utc(2026, 1, 16, 3), utc(2026, 1, 16, 12)),
    # 2026-03-08: clocks spring forward at 02:00 EST. 22:30 EST on the 7th -> 07:00 EDT = 11:00 UTC, not 12:00.
    ("spring forward night ends at 07:00 EDT", NIGHT, utc(2026, 3, 8, 3, 30), utc(2026, 3, 8, 11)),
    # 2026-11-01: clocks fall back at 02:00 EDT. 23:00 EDT on Oct 31 -> 07:00 EST = 12:00 UTC, not 11:00.
    ("fall back night ends at 07:00 EST", NIGHT, utc(2026, 11, 1, 3), utc(2026, 11, 1, 12)),
    ("same-day window", LUNCH, utc(2026, 6, 1, 16, 15), utc(2026, 6, 1, 17, 30)),
    ("same-day window, before it", LUNCH, utc(2026, 6, 1, 15, 59), utc(2026, 6, 1, 15, 59)),
    ("no quiet hours", None, utc(2026, 1, 16, 4), utc(2026, 1, 16, 4)),
    ("start == end means none", QuietHours(start=time(7), end=time(7)), utc(2026, 1, 16, 4), utc(2026, 1, 16, 4)),
]


@pytest.mark.parametrize(("case", "quiet", "at", "expected"), QUIET_CASES)
def test_quiet_hours_defer_to_the_end_of_the_window(
    case: str, quiet: QuietHours | None, at: datetime, expected: datetime
) -> None:
    assert release_time(at, quiet, NY) == expected, case


def test_quiet_hours_end_inside_the_dst_gap_lands_just_after_it() -> None:
    # 02:30 does not exist on 2026-03-08 in New York; the window ends at 03:30 EDT (07:30 UTC), not earlier.
    quiet = QuietHours(start=time(22, 0), end=time(2, 30))
    assert release_time(utc(2026, 3, 8, 4), quiet, NY) == utc(2026, 3, 8, 7, 30)


def test_quiet_hours_follow_the_organizations_zone() -> None:
    # 23:00 UTC is 18:00 in New York (not quiet) but 23:00 in London (quiet until 07:00 GMT).
    at = utc(2026, 1, 15, 23)
    assert release_time(at, NIGHT, NY) == at
    assert release_time(at, NIGHT, ZoneInfo("Europe/London")) == utc(2026, 1, 16, 7)


DIGEST_CASES = [
    ("immediate is now", "immediate", utc(2026, 1, 15, 17, 20), utc(2026, 1, 15, 17, 20)),
    ("hourly: top of the next hour", "hourly", utc(2026, 1, 15, 17, 20), utc(2026, 1, 15, 18)),
    ("hourly: on the hour goes to the next", "hourly", utc(2026, 1, 15, 17), utc(2026, 1, 15, 18)),
    ("daily: 08:00 local the same day", "daily", utc(2026, 1, 15, 11), utc(2026, 1, 15, 13)),
    ("daily: after 08:00 goes to tomorrow", "daily", utc(2026, 1, 15, 14), utc(2026, 1, 16, 13)),
    ("daily across spring forward: 08:00 EDT", "daily", utc(2026, 3, 7, 20), utc(2026, 3, 8, 12)),
]


@pytest.mark.parametrize(("case", "delivery", "at", "expected"), DIGEST_CASES)
def test_digest_due_times(case: str, delivery: str, at: datetime, expected: datetime) -> None:
    assert digest_due(at, delivery, NY) == expected, case  # type: ignore[arg-type]


def test_hourly_digest_in_a_half_hour_zone_uses_local_hours() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+05:30
    assert digest_due(utc(2026, 1, 15, 10, 0), "hourly", kolkata) == utc(2026, 1, 15, 10, 30)


def test_a_daily_digest_due_inside_quiet_hours_waits_for_their_end() -> None:
    r = rule({"type": "new_violation"}, delivery="daily", quiet_hours={"start": "06:00", "end": "09:00"})
    assert delivery_time(r, utc(2026, 1, 15, 20)) == utc(2026, 1, 16, 14)  # 09:00 EST, not 08:00


def candidate(rule_id: int, bbl: str, key: str) -> AlertCandidate:
    return AlertCandidate(rule_id, 7, bbl, key, "t", {})


def test_cooldown_silences_repeats_per_rule_and_building_but_keeps_them() -> None:
    rules = {1: rule({"type": "new_violation"}, id=1, cooldown_minutes=60), 2: rule({"type": "new_violation"}, id=2)}
    now = utc(2026, 1, 15, 17)
    last = {(1, BBL_B): now - timedelta(minutes=59), (2, BBL_A): now - timedelta(minutes=1)}
    batch = [
        candidate(1, BBL_A, "a1"),  # first for (1, A): notifies
        candidate(1, BBL_A, "a2"),  # same rule and building in the same pass: silenced
        candidate(1, BBL_B, "b1"),  # notified 59 minutes ago: silenced
        candidate(2, BBL_A, "a3"),  # rule 2 has no cooldown
    ]
    decision = apply_cooldown(batch, rules, last, now)
    assert [c.trigger_key for c in decision.notify] == ["a1", "a3"]
    assert [c.trigger_key for c in decision.silenced] == ["a2", "b1"]
    assert last[(1, BBL_A)] == now


def test_cooldown_expires() -> None:
    rules = {1: rule({"type": "new_violation"}, id=1, cooldown_minutes=60)}
    now = utc(2026, 1, 15, 17)
    decision = apply_cooldown([candidate(1, BBL_A, "k")], rules, {(1, BBL_A): now - timedelta(minutes=60)}, now)
    assert len(decision.notify) == 1
