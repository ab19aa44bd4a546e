"""HPD Order to Repair/Vacate Orders (tb8q-a3ar). Every vacate order is a serious event. The dataset's postcode
field really is spelled `postoce`."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from citysim.synth.context import Batch, Events
from citysim.synth.datasets.common import encode, later
from citysim.synth.risk import SERIOUS_SHARES

DATASET_ID = "tb8q-a3ar"
REASONS = ("Fire Damage", "Illegal Occupancy", "Structural Defects", "Lack of Utilities", "Collapse")


def draw(batch: Batch, prior: dict[str, Events]) -> Events:
    rng = batch.rng
    ev = batch.draw(batch.risk.serious_rate * SERIOUS_SHARES["vacate"])
    n = len(ev)
    units = batch.bldgs.units[ev.b]
    entire = rng.random(n) < 0.3
    ev.cols.update(
        key=batch.ids.take(DATASET_ID, n, 100_000),
        kind=np.full(n, "vacate_order"),
        serious=np.ones(n, dtype=bool),
        reason=rng.integers(0, len(REASONS), size=n),
        entire=entire,
        vacated=np.where(entire, units, 1 + (rng.random(n) * np.minimum(units, 8)).astype(np.int64)),
        rescind=np.where(rng.random(n) < 0.6, later(rng, ev.day, 300.0, minimum=14), 10**7),
    )
    return ev


def change_days(ev: Events) -> list[np.ndarray]:
    return [ev.day, ev.cols["rescind"]]


def rows(batch: Batch, ev: Events, as_of: int, select: np.ndarray | None = None) -> Iterator[bytes]:
    s, iso = batch.s, batch.fmt.iso
    buildings, days, c = ev.published(as_of, select)
    for i, (b, day) in enumerate(zip(buildings, days, strict=True)):
        row = {
            "building_id": s.building_id[b],
            "registration_id": s.registration_id[b],
            "boro_short_name": s.boro_short[b],
            "house_number": s.house[b],
            "street_name": s.street[b],
            "vacate_order_number": str(c["key"][i]),
            "primary_vacate_reason": REASONS[c["reason"][i]],
            "vacate_type": "Entire Building" if c["entire"][i] else "Partial",
            "vacate_effective_date": iso(day),
            "actual_rescind_date": iso(c["rescind"][i]) if c["rescind"][i] <= as_of else None,
            "number_of_vacated_units": str(c["vacated"][i]),
            "postoce": s.zip[b],
            "latitude": s.lat[b],
            "longitude": s.lon[b],
            "community_board": s.cb[b],
            "council_district": s.council[b],
            "census_tract": s.tract[b],
            "bin": s.bin[b],
            "bbl": s.bbl[b],
            "nta": s.nta[b],
        }
        yield encode(row)
