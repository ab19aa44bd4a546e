"""Trend of a building's risk: the move of its overall score over the last month, else its recent activity."""

from __future__ import annotations

from typing import Literal

Trend = Literal["up", "down", "flat"]

SCORE_STEP = 5  # points of the overall score that count as a real move
TREND_DAYS = 30  # the move is measured against the score this many days back (sentinel.risk.scoring._PREVIOUS)
ACTIVITY_RATIO = 1.5  # last 90 days against a quarter of the year before


def trend(previous: int | None, current: int, recent_90: float, prior_year: float) -> Trend:
    """`previous` is the overall score TREND_DAYS back (or the building's first score), None for a building never
    scored before; `recent_90` and `prior_year` count new records in the last 90 days and in the 365 days before.

    The arrow stands beside the overall score, so a building with a score history trends as its score moved: a
    score that held (at 100, say, while its records slowed) is steady, never "falling". Recent activity speaks only
    for a building with no history yet."""
    if previous is not None:
        if current - previous >= SCORE_STEP:
            return "up"
        if previous - current >= SCORE_STEP:
            return "down"
        return "flat"
    expected = prior_year / 4.0
    if recent_90 >= 2 and recent_90 >= ACTIVITY_RATIO * expected + 1:
        return "up"
    if expected >= 2 and recent_90 * ACTIVITY_RATIO + 1 <= expected:
        return "down"
    return "flat"
