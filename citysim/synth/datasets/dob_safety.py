"""DOB Safety Violations, DOB NOW (855j-jady): boiler and elevator compliance violations of buildings that have
those devices; ISO dates, title-case borough names, unpadded block and lot."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from citysim.synth.context import Batch, Events
from citysim.synth.datasets.common import encode, later

DATASET_ID = "855j-jady"
RATE = 0.0012

# (type code, device type, remarks)
TYPES = [
    ("LL6291", "Boiler", None),
    ("LBLVIO", "Boiler", "VIOLATION ISSUED FOR FAILURE TO FILE ANNUAL BOILER INSPECTION REPORT"),
    ("ACC1", "Elevator", "FAILURE TO FILE ELEVATOR CATEGORY 1 TEST REPORT"),
    ("EVCAT1", "Elevator", None),
]
CLOSED = (
    "Dismissed",
    "Cured",
    "Paid  - Pending Dismissal",
    "Waived - Pending Dismissal",
    "Disputed Successfully",
)


def draw(batch: Batch, prior: dict[str, Events]) -> Events:
    rng = batch.rng
    has_device = (batch.bldgs.units >= 3)[:, None]
    ev = batch.draw(RATE * has_device * batch.risk.activity**0.5 * batch.months.fraction[None, :])
    n = len(ev)
    elevator = batch.bldgs.floors[ev.b] >= 6
    kind = np.where(elevator & (rng.random(n) < 0.6), rng.integers(2, 4, size=n), rng.integers(0, 2, size=n))
    key = batch.ids.take(DATASET_ID, n, 1)
    new_style = rng.random(n) < 0.5
    numbers = [
        _number(batch.fmt.ymd(d), TYPES[t][0], TYPES[t][1], k, new)
        for d, t, k, new in zip(ev.day.tolist(), kind.tolist(), key.tolist(), new_style.tolist(), strict=True)
    ]
    ev.cols.update(
        key=key,
        natural_key=np.array(numbers, dtype=object),
        kind=np.full(n, "dob_safety_violation"),
        serious=np.zeros(n, dtype=bool),
        type=kind,
        closed=np.where(rng.random(n) < 0.7, later(rng, ev.day, 240.0), 10**7),
        how=rng.integers(0, len(CLOSED), size=n),
        device=rng.integers(10_000_000, 99_999_999, size=n),
    )
    return ev


def _number(d: str, code: str, device_type: str, key: int, new_style: bool) -> str:
    """DOB NOW numbers ("VIO-...-202312-0012649") or the BIS form without the V (MMDDYY + type + number)."""
    if new_style:
        return f"VIO-{'BLR' if device_type == 'Boiler' else 'ELV'}-VT-PER-{d[:6]}-{key:07d}"
    return f"{d[4:6]}{d[6:8]}{d[2:4]}{code}{key:05d}"


def change_days(ev: Events) -> list[np.ndarray]:
    return [ev.day, ev.cols["closed"]]


def rows(batch: Batch, ev: Events, as_of: int, select: np.ndarray | None = None) -> Iterator[bytes]:
    s, iso = batch.s, batch.fmt.iso
    buildings, days, c = ev.published(as_of, select)
    for i, (b, day) in enumerate(zip(buildings, days, strict=True)):
        code, device_type, remarks = TYPES[c["type"][i]]
        row = {
            "bin": s.bin[b],
            "violation_issue_date": iso(day),
            "violation_number": c["natural_key"][i],
            "violation_type": code,
            "violation_remarks": remarks,
            "violation_status": CLOSED[c["how"][i]] if c["closed"][i] <= as_of else "Active",
            "device_number": f"{s.boroid[b]}{c['device'][i]:08d}{'YN'[c['device'][i] % 2]}0001",
            "device_type": device_type,
            "cycle_end_date": iso(day - 30),
            "borough": s.boro_title[b],
            "block": s.block[b],
            "lot": s.lot[b],
            "house_number": s.house[b],
            "street": s.street[b],
            "city": "New York",
            "state": "New York",
            "zip": s.zip[b],
            "latitude": s.lat[b],
            "longitude": s.lon[b],
            "community_board": s.cb3[b],
            "council_district": s.council[b],
            "bbl": s.bbl[b],
            "census_tract": s.tract[b],
            "nta": s.nta[b],
        }
        yield encode(row)
