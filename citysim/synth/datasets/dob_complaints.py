"""DOB Complaints Received (eabe-havv): text dates MM/DD/YYYY and space-padded address fields, as DOB pads them.

`dobrundate` is the DOB extract run date; here it is the day of the record's last change, so a record that did
not change does not change its row (the real dataset is replaced daily and re-stamps every row).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from citysim.synth.context import Batch, Events
from citysim.synth.datasets.common import encode, later

DATASET_ID = "eabe-havv"
RATE = 0.004

# (category code, unit override or None = the borough office, 311 complaint type, 311 descriptor)
CATEGORIES = [
    ("05", None, "General Construction/Plumbing", "Permit - None"),
    ("45", None, "Building/Use", "Illegal Conversion Of Residential Building/Space"),
    ("63", "ELEVR", "Elevator", "Elevator - Defective/Not Working"),
    ("4A", None, "General Construction/Plumbing", "Illegal Hotel Rooms In Residential Building"),
    ("6S", "SCFLD", "General Construction/Plumbing", "Scaffolding Unsafe"),
    ("43", None, "General Construction/Plumbing", "Structural Stability Impacted - New Building"),
    ("39", "BOILR", "Boilers", "Boiler - Defective/Non-operative/No Permit"),
    ("31", None, "General Construction/Plumbing", "Certificate Of Occupancy - None/Illegal/Contrary To Co"),
    ("10", "C & D", "General Construction/Plumbing", "Debris/Building - Falling Or In Danger Of Falling"),
    ("99", None, "Building/Use", "Other"),
]
DISPOSITIONS = ["I2", "A1", "B1", "C2", "I1", "H1", "L2", "K1", "A3"]


def draw(batch: Batch, prior: dict[str, Events]) -> Events:
    rng = batch.rng
    ev = batch.draw(RATE * batch.risk.activity**0.6 * batch.months.fraction[None, :])
    n = len(ev)
    inspection = later(rng, ev.day, 25.0)
    disposition = inspection + rng.integers(0, 10, size=n)
    never_inspected = rng.random(n) < 0.05
    key = batch.ids.take(DATASET_ID, n, 100_000)
    ev.cols.update(
        key=key,
        # The first digit is the borough.
        natural_key=np.char.add(batch.bldgs.boro[ev.b].astype(str), np.char.zfill(key.astype(str), 6)),
        kind=np.full(n, "dob_complaint"),
        serious=np.zeros(n, dtype=bool),
        category=rng.integers(0, len(CATEGORIES), size=n),
        inspection=inspection,
        disposition=np.where(never_inspected, inspection + 10**6, disposition),
        code=rng.integers(0, len(DISPOSITIONS), size=n),
        no_zip=rng.random(n) < 0.025,
    )
    return ev


def change_days(ev: Events) -> list[np.ndarray]:
    return [ev.day, ev.cols["inspection"], ev.cols["disposition"]]


def rows(batch: Batch, ev: Events, as_of: int, select: np.ndarray | None = None) -> Iterator[bytes]:
    s, mdy, iso = batch.s, batch.fmt.mdy, batch.fmt.iso
    buildings, days, c = ev.published(as_of, select)
    for i, (b, day) in enumerate(zip(buildings, days, strict=True)):
        code, unit, _, _ = CATEGORIES[c["category"][i]]
        inspected = c["inspection"][i] <= as_of
        disposed = c["disposition"][i] <= as_of
        last = c["disposition"][i] if disposed else c["inspection"][i] if inspected else day
        row = {
            "complaint_number": c["natural_key"][i],
            "status": "CLOSED" if disposed else "ACTIVE",
            "date_entered": mdy(day),
            "house_number": s.house[b].ljust(12),
            "zip_code": " " * 9 if c["no_zip"][i] else s.zip[b].ljust(9),
            "house_street": s.street[b].ljust(32),
            "bin": s.bin[b],
            "community_board": s.cb3[b],
            "special_district": "   ",
            "complaint_category": code,
            "unit": unit or s.dob_unit[b],
            "disposition_date": mdy(c["disposition"][i]) if disposed else None,
            "disposition_code": DISPOSITIONS[c["code"][i]] if disposed else None,
            "inspection_date": mdy(c["inspection"][i]) if inspected else None,
            "dobrundate": iso(last),
        }
        yield encode(row)
