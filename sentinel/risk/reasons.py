"""Reasons in words a property manager understands, from a model's per-feature contributions (SHAP values).

A reason is shown only when its feature pushed the risk up and its value is something to act on: a count of zero
can lower or raise a model's output, but "0 open Class C violations" is not a reason a building is risky.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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
    "violation_trend_90": lambda n: f"{n:.0f} more violations in the last 3 months than in a typical quarter",
    "complaint_trend_90": lambda n: f"{n:.0f} more complaints in the last 3 months than in a typical quarter",
    "violations_per_unit_365": lambda n: f"{n:.1f} violations per apartment in the last year",
    "complaints_per_unit_365": lambda n: f"{n:.1f} complaints per apartment in the last year",
    "rate_311_per_unit_365": lambda n: f"{n:.1f} 311 complaints per apartment in the last year",
    "registration_lapsed": lambda n: "HPD registration has lapsed",
    "units_res": lambda n: _count(n, "apartment"),
    "units_total": lambda n: _count(n, "unit"),
    "num_floors": lambda n: _count(n, "floor"),
    "year_built": lambda n: f"built in {int(n)}",
    "building_age": lambda n: f"a {int(n)}-year-old building",
}
# Attributes whose value is always "something"; counts must be positive to be a reason.
ALWAYS = {"units_res", "units_total", "num_floors", "year_built", "building_age"}
CATEGORY_WORDS: dict[str, Callable[[str], str]] = {
    "borough": lambda v: f"located in {BOROUGHS.get(v, v)}",
    "bldg_class": lambda v: f"building class {v}",
    "owner_type": lambda v: f"owner type {v}",
}


def phrase(feature: str, value: float | str | None) -> str | None:
    """The reason for one feature at its value, or None when the value is not a reason to show."""
    if feature in CATEGORY_WORDS:
        return CATEGORY_WORDS[feature](str(value)) if value not in (None, "") else None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    value = float(value)
    if value <= 0 and feature not in ALWAYS:
        return None
    if feature == "has_registration":
        return None
    if feature in FIXED:
        return FIXED[feature](value)
    prefix, _, rest = feature.partition("_")
    kind, _, window = rest.rpartition("_")
    words = VIOLATION_WORDS if prefix == "v" else COMPLAINT_WORDS if prefix == "c" else None
    if words and kind in words and window in WINDOW_WORDS:
        return f"{_count(value, words[kind])} in {WINDOW_WORDS[window]}"
    return None


@dataclass(frozen=True, slots=True)
class Reason:
    feature: str
    text: str
    impact: float  # contribution to the log-odds

    def to_dict(self) -> dict:
        return {"feature": self.feature, "text": self.text, "impact": round(self.impact, 4)}


def top_reasons(
    names: list[str], contributions: np.ndarray, values: list[float | str | None], limit: int = 4
) -> list[Reason]:
    """The `limit` features that raised this building's risk the most and read as a reason."""
    order = np.argsort(-contributions[: len(names)], kind="stable")
    out: list[Reason] = []
    for i in order:
        if contributions[i] <= 0 or len(out) == limit:
            break
        text = phrase(names[i], values[i])
        if text:
            out.append(Reason(names[i], text, float(contributions[i])))
    return out
