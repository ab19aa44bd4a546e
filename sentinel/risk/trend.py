"""Trend of a building's risk: the change since its previous score, else its recent activity."""

from __future__ import annotations

from typing import Literal

Trend = Literal["up", "down", "flat"]

SCORE_STEP = 5  # points of the overall score that count as a real move
ACTIVITY_RATIO = 1.5  # last 90 days against a quarter of the year before


def trend(previous: int | None, current: int, recent_90: float, prior_year: float) -> Trend:
    """`previous`/`current` are overall scores; `recent_90` and `prior_year` count new records in the last 90 days
    and in the 365 days before those."""
    if previous is not None:
        if current - previous >= SCORE_STEP:
            return "up"
        if previous - current >= SCORE_STEP:
            return "down"
    expected = prior_year / 4.0
    if recent_90 >= 2 and recent_90 >= ACTIVITY_RATIO * expected + 1:
        return "up"
    if expected >= 2 and recent_90 * ACTIVITY_RATIO + 1 <= expected:
        return "down"
    return "flat"
