"""Reasons in words a property manager understands, from a scorer's per-feature contributions.

A reason is shown only when its feature pushed the risk up (a positive contribution) and its value explains why:
it is above the typical building's value (the median of the reference population, kept with the model) and reads
as something that happened ("39 open violations"). A tree model can credit a low value with a positive
contribution (an interaction, or Saabas attribution noise), and "0.0 violations per apartment in the last year"
is not a reason a building is risky, so such a feature is skipped, never shown.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

WINDOW_WORDS = {"30": "the last 30 days", "90": "the last 3 months", "365": "the last year", "1095": "the last 3 years"}
VIOLATION_WORDS = {
    "all": "violation",
    "hpd_a": "Class A violation",
    "hpd_b": "Class B violation",
    "hpd_c": "Class C violation",
    "dob": "DOB violation",
    "ecb": "ECB violation",
    "hazardous": "hazardous DOB/ECB violation",
    "vacate": "vacate order",
    "serious": "serious violation",
}
COMPLAINT_WORDS = {
    "all": "complaint",
    "heat": "heat complaint",
    "311": "311 complaint",
    "hpd": "HPD complaint",
    "dob": "DOB complaint",
}
BOROUGHS = {"1": "Manhattan", "2": "the Bronx", "3": "Brooklyn", "4": "Queens", "5": "Staten Island"}


def _count(n: float, noun: str) -> str:
    n = round(n)
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _money(n: float) -> str:
    return f"${n:,.0f}"


FIXED: dict[str, Callable[[float], str]] = {
    "open_all": lambda n: _count(n, "open violation"),
    "open_hpd_a": lambda n: _count(n, "open Class A violation"),
    "open_hpd_b": lambda n: _count(n, "open Class B violation"),
    "open_hpd_c": lambda n: _count(n, "open Class C violation"),
    "open_dob": lambda n: _count(n, "open DOB violation"),
    "open_ecb": lambda n: _count(n, "open ECB violation"),
    "open_hazardous": lambda n: _count(n, "open hazardous DOB/ECB violation"),
    "oldest_open_days": lambda n: f"a violation open for {int(n)} days",
    "oldest_open_hpd_c_days": lambda n: f"a Class C violation open for {int(n)} days",
    "overdue_all": lambda n: _count(n, "violation") + " past the certify-by date",
    "overdue_hpd_c": lambda n: _count(n, "Class C violation") + " past the certify-by date",
    "ecb_balance_open": lambda n: f"{_money(n)} in unpaid ECB penalties",
    "ecb_penalty_365": lambda n: f"{_money(n)} in ECB penalties in the last year",
    "ecb_penalty_total": lambda n: f"{_money(n)} in ECB penalties on record",
    "c_heat_season": lambda n: _count(n, "heat complaint") + " this winter",
    "v_all_prior_year": lambda n: _count(n, "violation") + " in the year before the last 3 months",
    "c_all_prior_year": lambda n: _count(n, "complaint") + " in the year before the last 3 months",
    "violation_trend_90": lambda n: _count(n, "more violation") + " in the last 3 months than in a typical quarter",
    "complaint_trend_90": lambda n: _count(n, "more complaint") + " in the last 3 months than in a typical quarter",
    "open_other": lambda n: _count(n, "other open violation"),
    "registration_lapsed": lambda n: "HPD registration has lapsed",
    "units_res": lambda n: _count(n, "apartment"),
    "units_total": lambda n: _count(n, "unit"),
    "num_floors": lambda n: _count(n, "floor"),
    "building_age": lambda n: f"a {int(n)}-year-old building",
}
# Rates per apartment read as the count they come from and the apartments it is spread over: "0.0 per apartment"
# hides the count, and "12 violations across 8 apartments" is what a manager checks.
PER_UNIT = {
    "violations_per_unit_365": ("v_all_365", "violation"),
    "complaints_per_unit_365": ("c_all_365", "complaint"),
    "rate_311_per_unit_365": ("c_311_365", "311 complaint"),
}
# Numbers whose rounding to whole units is what the reader sees: below one, there is nothing to show.
WHOLE = {"violation_trend_90", "complaint_trend_90"}
NEVER = {"has_registration", "year_built"}  # no direction a reader can act on (building_age says "old")
CATEGORY_WORDS: dict[str, Callable[[str], str]] = {
    "borough": lambda v: f"located in {BOROUGHS.get(v, v)}",
    "bldg_class": lambda v: f"building class {v}",
    "owner_type": lambda v: f"owner type {v}",
}


def _number(value: object) -> float | None:
    if value is None or isinstance(value, str):
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


def phrase(
    feature: str, value: float | str | None, row: Mapping[str, object] | None = None, typical: float = 0.0
) -> str | None:
    """The reason for one feature at its value, or None when the value does not explain a higher risk: missing,
    not above `typical` (the median building's value), or rounding to nothing."""
    if feature in CATEGORY_WORDS:
        return CATEGORY_WORDS[feature](str(value)) if value not in (None, "") else None
    number = _number(value)
    if number is None or feature in NEVER or number <= max(typical, 0.0):
        return None
    if feature in WHOLE and round(number) < 1:
        return None
    if feature in PER_UNIT:
        count_feature, noun = PER_UNIT[feature]
        count = _number((row or {}).get(count_feature))
        units = _number((row or {}).get("units_res"))
        if count is None or round(count) < 1:
            return None
        where = f" across {_count(units, 'apartment')}" if units and units >= 1 else ""
        return f"{_count(count, noun)} in the last year{where}"
    if feature in FIXED:
        return FIXED[feature](number)
    prefix, _, rest = feature.partition("_")
    kind, _, window = rest.rpartition("_")
    words = VIOLATION_WORDS if prefix == "v" else COMPLAINT_WORDS if prefix == "c" else None
    if words and kind in words and window in WINDOW_WORDS and round(number) >= 1:
        return f"{_count(number, words[kind])} in {WINDOW_WORDS[window]}"
    return None


@dataclass(frozen=True, slots=True)
class Reason:
    feature: str
    text: str
    value: float | str  # the building's value of the feature, which the text puts in words
    impact: float  # contribution to the scorer's raw output (log-odds for a model, points for the baseline)

    def to_dict(self) -> dict:
        value = self.value if isinstance(self.value, str) else round(self.value, 4)
        return {"feature": self.feature, "text": self.text, "value": value, "impact": round(self.impact, 4)}


def top_reasons(
    names: list[str],
    contributions: np.ndarray,
    values: list[float | str | None],
    limit: int = 4,
    typical: Mapping[str, float] | None = None,
) -> list[Reason]:
    """The `limit` features that raised this building's risk the most and whose value explains it."""
    typical = typical or {}
    row = dict(zip(names, values, strict=True))
    order = np.argsort(-contributions[: len(names)], kind="stable")
    out: list[Reason] = []
    for i in order:
        if contributions[i] <= 0 or len(out) == limit:
            break
        value = values[i]
        text = phrase(names[i], value, row, typical.get(names[i], 0.0))
        if text and value is not None:
            shown = value if isinstance(value, str) else float(value)
            out.append(Reason(names[i], text, shown, float(contributions[i])))
    return out
