"""HPD Housing Maintenance Code Complaints and Problems (ygpa-z7cr): one row per problem of a complaint.

Tenants complain more where the building is in bad shape or the owner is neglecting it, and about heat in the
heat season; every complaint is also a 311 request with the same `unique_key` (service_requests draws from here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from citysim.synth.context import Batch, BuildingStrings, Events
from citysim.synth.datasets.common import later, plain
from citysim.synth.risk import heat_season

DATASET_ID = "ygpa-z7cr"
COMPLAINT_BASE = 0.012

# (major category, minor category, problem code, space type, unit type, type)
_PROBLEMS = [
    ("UNSANITARY CONDITION", "PESTS", "MICE", "ENTIRE APARTMENT", "APARTMENT", "NON EMERGENCY"),
    ("UNSANITARY CONDITION", "MOLD", "MOLD", "BATHROOM", "APARTMENT", "NON EMERGENCY"),
    ("PLUMBING", "WATER SUPPLY", "LOW PRESSURE", "KITCHEN", "APARTMENT", "NON EMERGENCY"),
    ("PAINT/PLASTER", "WALL", "CRACKED", "BEDROOM", "APARTMENT", "NON EMERGENCY"),
    ("DOOR/WINDOW", "DOOR", "BROKEN OR MISSING", "BATHROOM", "APARTMENT", "EMERGENCY"),
    ("WATER LEAK", "HEAVY FLOW", "ENTIRE APARTMENT", "KITCHEN", "APARTMENT", "EMERGENCY"),
    ("ELECTRIC", "POWER OUTAGE", "ENTIRE APARTMENT", "ENTIRE APARTMENT", "APARTMENT", "IMMEDIATE EMERGENCY"),
    ("GENERAL", "BELL/BUZZER/INTERCOM", "DEFECTIVE", "LOBBY", "PUBLIC AREA", "NON EMERGENCY"),
    ("FLOORING/STAIRS", "FLOOR", "DAMAGED", "LIVING ROOM", "APARTMENT", "NON EMERGENCY"),
    ("SAFETY", "SMOKE DETECTOR", "MISSING", "ENTIRE APARTMENT", "APARTMENT", "HAZARDOUS"),
    ("ELEVATOR", "ELEVATOR", "NOT WORKING", "ENTIRE BUILDING", "BUILDING-WIDE", "EMERGENCY"),
]
_HEAT = [
    ("HEAT/HOT WATER", "ENTIRE BUILDING", "NO HEAT", "ENTIRE BUILDING", "BUILDING-WIDE", "EMERGENCY"),
    ("HEAT/HOT WATER", "APARTMENT ONLY", "NO HEAT", "ENTIRE APARTMENT", "APARTMENT", "EMERGENCY"),
    ("HEAT/HOT WATER", "ENTIRE BUILDING", "NO HOT WATER", "ENTIRE BUILDING", "BUILDING-WIDE", "EMERGENCY"),
]
CATALOG = _PROBLEMS + _HEAT
OUTCOMES = [
    "The Department of Housing Preservation and Development inspected the following conditions. Violations were "
    "issued. Information about specific violations is available at www.nyc.gov/hpd.",
    "The Department of Housing Preservation and Development inspected the following conditions. No violations were "
    "issued. The complaint has been closed.",
    "The Department of Housing Preservation and Development was not able to gain access to inspect the following "
    "conditions. The complaint has been closed. If the condition still exists, please file a new complaint.",
    "The Department of Housing Preservation and Development contacted a tenant in the building and verified that "
    "the following conditions were corrected. The complaint has been closed.",
]
OPEN_TEXT = (
    "The following complaint conditions are still open. HPD has already attempted to notify the property owner "
    "that the condition exists; the tenant should provide access for the owner to make the repair."
)


def draw(batch: Batch, prior: dict[str, Events]) -> Events:
    rng = batch.rng
    heat = heat_season(batch.months)[None, :]
    tenants = rng.lognormal(-0.125, 0.5, size=(len(batch.bldgs), 1))
    rate = COMPLAINT_BASE * batch.risk.activity**0.85 * tenants * (1 + 1.5 * heat) * batch.months.fraction[None, :]
    cm = batch.draw(rate)  # complaints
    nc = len(cm)
    complaint_id = batch.ids.take("hpd_complaint", nc, 8_000_000)
    unique_key = batch.ids.take("311", nc, 50_000_000)
    heat_share = 0.6 * heat[0, cm.cols["month"]]
    is_heat = rng.random(nc) < heat_share
    problems = 1 + np.minimum(rng.geometric(0.65, size=nc) - 1, 4)
    close = later(rng, cm.day, 18.0)
    closed_by_as_of_outcome = rng.integers(0, len(OUTCOMES), size=nc)
    anonymous = rng.random(nc) < 0.12
    # Expand complaints to problems.
    rep = np.repeat(np.arange(nc), problems)
    first = np.r_[True, rep[1:] != rep[:-1]]
    npb = len(rep)
    cat = np.where(
        is_heat[rep],
        len(_PROBLEMS) + rng.integers(0, len(_HEAT), size=npb),
        rng.integers(0, len(_PROBLEMS), size=npb),
    )
    return Events(
        b=cm.b[rep],
        day=cm.day[rep],
        cols={
            "key": batch.ids.take(DATASET_ID, npb, 17_000_000),
            "kind": np.where(cat >= len(_PROBLEMS), "hpd_complaint_heat", "hpd_complaint"),
            "serious": np.zeros(npb, dtype=bool),
            "month": cm.cols["month"][rep],
            "complaint_id": complaint_id[rep],
            "unique_key": unique_key[rep],
            "first": first,
            "category": cat,
            "close": close[rep],
            "problem_close": close[rep] - rng.integers(0, 3, size=npb) * (~first),
            "outcome": closed_by_as_of_outcome[rep],
            "anonymous": anonymous[rep],
            "duplicate": (rng.random(npb) < 0.15) & ~first,
            "apt_floor": rng.integers(1, 7, size=npb),
            "apt_letter": rng.integers(0, 6, size=npb),
        },
    )


def change_days(ev: Events) -> list[np.ndarray]:
    return [ev.day, ev.cols["close"], ev.cols["problem_close"]]


def _building(s: BuildingStrings) -> Callable[[int], dict[str, str]]:
    def fields(b: int) -> dict[str, str]:
        return {
            "building_id": s.building_id[b],
            "borough": s.boro_name[b],
            "house_number": s.house[b],
            "street_name": s.street[b],
            "post_code": s.zip[b],
            "block": s.block[b],
            "lot": s.lot[b],
            "community_board": s.cb[b],
            "latitude": s.lat[b],
            "longitude": s.lon[b],
            "council_district": s.council[b],
            "census_tract": s.tract[b],
            "bin": s.bin[b],
            "bbl": s.bbl[b],
            "nta": s.nta[b],
        }

    return fields


# Per catalog entry, its members from unit_type to problem_code as they stand in a row.
_CATEGORY_JSON = [
    f',"unit_type":"{unit}","space_type":"{space}","type":"{typ}","major_category":"{major}",'
    f'"minor_category":"{minor}","problem_code":"{code}"'
    for major, minor, code, space, unit, typ in CATALOG
]
plain(*(text for entry in CATALOG for text in entry), *OUTCOMES, OPEN_TEXT)


def rows(batch: Batch, ev: Events, as_of: int, select: np.ndarray | None = None) -> Iterator[bytes]:
    """API JSON rows, one f-string each (no field is ever null): the same bytes orjson would write for the
    record's fields in this order followed by the building's."""
    s, iso = batch.s, batch.fmt.by_day_iso
    building = s.fragments(DATASET_ID, _building(s))
    floors = s.floors
    idx = ev.published_index(as_of, select)
    col = [ev.cols[k][idx].tolist() for k in _ROW_COLUMNS]
    for (
        b, day, key, complaint_id, category, close, problem_close, outcome, duplicate, anonymous, unique_key,
        apt_floor, apt_letter,
    ) in zip(ev.b[idx].tolist(), ev.day[idx].tolist(), *col, strict=True):  # fmt: skip
        closed = close <= as_of
        p_closed = problem_close <= as_of
        apt = (
            "BLDG" if CATALOG[category][4] == "BUILDING-WIDE" else f"{min(apt_floor, floors[b])}{'ABCDEF'[apt_letter]}"
        )
        yield (
            f'{{"received_date":"{iso[day]}","problem_id":"{key}","complaint_id":"{complaint_id}",'
            f'"apartment":"{apt}"{_CATEGORY_JSON[category]},"complaint_status":"{"CLOSE" if closed else "OPEN"}",'
            f'"complaint_status_date":"{iso[close if closed else day]}",'
            f'"problem_status":"{"CLOSE" if p_closed else "OPEN"}",'
            f'"problem_status_date":"{iso[problem_close if p_closed else day]}",'
            f'"status_description":"{OUTCOMES[outcome] if p_closed else OPEN_TEXT}",'
            f'"problem_duplicate_flag":"{"Y" if duplicate else "N"}",'
            f'"complaint_anonymous_flag":"{"Y" if anonymous else "N"}","unique_key":"{unique_key}",{building[b]}}}'
        ).encode()


# The event columns rows() reads, in the order of its loop variables.
_ROW_COLUMNS = (
    "key",
    "complaint_id",
    "category",
    "close",
    "problem_close",
    "outcome",
    "duplicate",
    "anonymous",
    "unique_key",
    "apt_floor",
    "apt_letter",
)
