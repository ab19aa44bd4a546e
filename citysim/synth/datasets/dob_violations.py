"""DOB Violations, BIS (3h2n-5cm9): YYYYMMDD text dates, 5-character block and lot, `number` = V/V* + MMDDYY +
type + violation number where `*` means resolved, a padded `violation_type`, and the real garbage: a few bad
issue dates ("000000", "Y9990120"), borough letters instead of digits, 4-character lots and the TEST/RECORD row.

Serious: violation type UB (unsafe building), drawn from the building's serious rate.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from citysim.synth.context import Batch, Events
from citysim.synth.datasets.common import encode
from citysim.synth.risk import NEGLECT_PAPERWORK, RESOLVE_DAYS, RESOLVE_SHARE, SERIOUS_SHARES

DATASET_ID = "3h2n-5cm9"
RATE = 0.0025

# (code, violation_type padded as DOB prints it, has a device, description)
TYPES = [
    ("E", "E-ELEVATOR" + " " * 56 + "ELEVATORREQUIRED", True, None),
    ("LL6291", "LL6291-LOCAL LAW 62/91 - BOILERS" + " " * 39 + "BOILER  REQUIRED", True, None),
    ("C", "C-CONSTRUCTION" + " " * 52 + "OTHER   OPTIONAL", False, None),
    ("LBLVIO", "LBLVIO-LOW PRESSURE BOILER" + " " * 45 + "BOILER  REQUIRED", True, None),
    (
        "AEUHAZ1",
        "AEUHAZ1-FAIL TO CERTIFY CLASS 1" + " " * 41 + "NONE",
        False,
        "FAIL TO CERTIFY CLASS 1 CONDITION",
    ),
    ("BENCH", "BENCH-FAILURE TO BENCHMARK" + " " * 44 + "NONE", False, "FAILURE TO SUBMIT BENCHMARKING DATA"),
    (
        "FISPNRF",
        "FISPNRF-NO REPORT AND / OR LATE FILING (FACADE)" + " " * 25 + "FACADE  REQUIRED",
        False,
        "FAILED TO FILE FISP TECHNICAL REPORT",
    ),
    ("P", "P-PLUMBING" + " " * 56 + "NONE", False, None),
]
UNSAFE = ("UB", "UB-UNSAFE BUILDINGS" + " " * 48 + "NONE", False, "UNSAFE BUILDING CONDITION OBSERVED")
CATEGORY_ACTIVE = "V-DOB VIOLATION - ACTIVE"
CATEGORY_RESOLVED = ("V*-DOB VIOLATION - Resolved", "V*-DOB VIOLATION - DISMISSED")
COMMENTS = (
    "CIANOW CRM Violation Dismissed",
    "PVT: RESOLVED BY SATISFACTORY CAT 1 INSPECTION",
    "PPN203 AOC SUB BY ELEVATOR CO CERT ACCEPTED",
)


def prelude() -> list[dict[str, str]]:
    """The literal test record the real dataset carries."""
    return [
        {
            "isn_dob_bis_viol": "1000000",
            "boro": "1",
            "block": "99999",
            "lot": "99999",
            "issue_date": "20000101",
            "violation_type_code": "C",
            "violation_number": "TEST",
            "house_number": "TEST",
            "street": "RECORD",
            "number": "V010100CTEST",
            "violation_category": CATEGORY_ACTIVE,
            "violation_type": TYPES[2][1],
        }
    ]


def draw(batch: Batch, prior: dict[str, Events]) -> Events:
    rng = batch.rng
    drawn = batch.draw_with_serious(
        RATE * batch.risk.activity**0.6 * batch.months.fraction[None, :],
        batch.risk.serious_rate * SERIOUS_SHARES["dob_unsafe"],
    )
    b, day, month, serious = drawn.b, drawn.day, drawn.cols["month"], drawn.cols["serious"]
    n = len(b)
    neglect = batch.risk.neglect[b, month]
    trait = batch.risk.trait[b, month]
    resolves = rng.random(n) < RESOLVE_SHARE[trait] * np.where(neglect, NEGLECT_PAPERWORK, 1.0)
    delay = (rng.exponential(1.0, size=n) * RESOLVE_DAYS[trait]).astype(np.int64)
    dispo = np.where(resolves, day + 1 + delay, 10**7)
    return Events(
        b=b,
        day=day,
        cols={
            "key": batch.ids.take(DATASET_ID, n, 2_000_000),
            "kind": np.where(serious, "dob_unsafe_building", "dob_violation"),
            "serious": serious,
            "month": month,
            "type": rng.integers(0, len(TYPES), size=n),
            "vnum": rng.integers(10_000, 999_999, size=n),
            "disposition": dispo,
            "dismissed": rng.random(n) < 0.55,
            "comment": rng.integers(0, len(COMMENTS), size=n),
            "ecb": rng.random(n) < 0.05,
            "garbage": rng.random(n),
            "device": rng.integers(1000, 99999, size=n),
        },
    )


def change_days(ev: Events) -> list[np.ndarray]:
    return [ev.day, ev.cols["disposition"]]


def rows(batch: Batch, ev: Events, as_of: int, select: np.ndarray | None = None) -> Iterator[bytes]:
    s, ymd = batch.s, batch.fmt.ymd
    buildings, days, c = ev.published(as_of, select)
    for i, (b, day) in enumerate(zip(buildings, days, strict=True)):
        code, vtype, device, description = UNSAFE if c["serious"][i] else TYPES[c["type"][i]]
        resolved = c["disposition"][i] <= as_of
        issue = ymd(day)
        g = c["garbage"][i] if not c["serious"][i] else 1.0
        vnum = f"{c['vnum'][i] % 10000:04d}{'ABCDEFGH'[c['vnum'][i] % 8]}{c['vnum'][i] % 97:02d}"
        if code == "E":
            vnum = f"9027/{c['vnum'][i]:06d}"
        number = f"V{'*' if resolved else ''}{issue[4:6]}{issue[6:8]}{issue[2:4]}{code}{vnum}"
        if g < 0.0015:
            issue = "000000" if g < 0.001 else "Y9990120"  # the real column's min and max
        category = (
            (CATEGORY_RESOLVED[1] if c["dismissed"][i] else CATEGORY_RESOLVED[0]) if resolved else CATEGORY_ACTIVE
        )
        row = {
            "isn_dob_bis_viol": str(c["key"][i]),
            "boro": s.boro_short[b][0] if 0.002 < g < 0.009 else s.boroid[b],
            "bin": s.bin[b],
            "block": s.block5[b],
            "lot": s.lot4[b] if 0.01 < g < 0.02 else s.lot5[b],
            "issue_date": issue,
            "violation_type_code": code,
            "violation_number": vnum,
            "house_number": s.house[b],
            "street": s.street[b],
            "disposition_date": ymd(c["disposition"][i]) if resolved else None,
            "disposition_comments": COMMENTS[c["comment"][i]] if resolved else None,
            "device_number": f"{s.boroid[b]}P{c['device'][i]}" if device else None,
            "description": description,
            "ecb_number": f"3{c['vnum'][i]:07d}H" if c["ecb"][i] else None,
            "number": number,
            "violation_category": category,
            "violation_type": vtype,
        }
        yield encode(row)
