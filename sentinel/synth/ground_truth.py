"""The generator's hidden truth, written beside the data so models can be scored against the limit.

* `ground_truth/buildings.csv`: one row per building: keys, attributes, hidden condition and owner behaviour, and
  `p_serious_<YYYY-MM>`: the true probability of at least one new serious event (HPD class C, ECB hazardous, DOB
  unsafe-building violation, HPD vacate order) in the 12 months starting that month, for every whole year
  from the start.
* `ground_truth/serious_rate_monthly.npy`: float32 [building, month], the expected number of serious events per
  building and month, rows in buildings.csv order, months in `months.txt`; any 12-month window's probability is
  1 - exp(-sum of its months) (see `sentinel.synth.oracle`).
* `ground_truth/events.csv`: every simulated record with its date, kind and whether it is serious (including
  records dated after the snapshot's as-of day, which are the future the model must predict).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentinel.synth.buildings import OWNER_TRAITS
from sentinel.synth.geography import BOROUGHS
from sentinel.synth.risk import window_probability

if TYPE_CHECKING:
    from sentinel.synth.city import City, CityBatch

BUILDING_COLUMNS = [
    "bbl",
    "bin",
    "borough",
    "building_id",
    "registration_id",
    "units",
    "floors",
    "year_built",
    "bldgclass",
    "condition",
    "owner_trait_start",
    "owner_trait_end",
    "neglect_share",
    "serious_expected_total",
]
EVENT_COLUMNS = ["bbl", "bin", "dataset_id", "key", "date", "kind", "serious"]


class GroundTruthWriter:
    def __init__(self, out: Path, city: City) -> None:
        out.mkdir(parents=True, exist_ok=True)
        months = city.months
        self.windows = list(range(0, months.count - 11, 12))
        (out / "months.txt").write_text("\n".join(months.labels) + "\n")
        self._rates = np.lib.format.open_memmap(
            out / "serious_rate_monthly.npy",
            mode="w+",
            dtype=np.float32,
            shape=(len(city.buildings), months.count),
        )
        self._bfh = (out / "buildings.csv").open("w", newline="")
        self._b = csv.writer(self._bfh)
        self._b.writerow(BUILDING_COLUMNS + [f"p_serious_{months.labels[w]}" for w in self.windows])
        self._efh = (out / "events.csv").open("w", newline="")
        self._e = csv.writer(self._efh)
        self._e.writerow(EVENT_COLUMNS)
        self._row = 0

    def add(self, cb: CityBatch) -> None:
        batch = cb.batch
        bl, risk, s = batch.bldgs, batch.risk, batch.s
        n = len(bl)
        self._rates[self._row : self._row + n] = risk.serious_rate.astype(np.float32)
        self._row += n
        probs = [window_probability(risk.serious_rate, w) for w in self.windows]
        neglect_share = risk.neglect.mean(axis=1)
        total = risk.serious_rate.sum(axis=1)
        for i in range(n):
            self._b.writerow(
                [
                    s.bbl[i],
                    s.bin[i],
                    BOROUGHS[bl.boro[i] - 1].name,
                    s.building_id[i],
                    s.registration_id[i],
                    s.units[i],
                    s.floors[i],
                    int(bl.year_built[i]),
                    bl.bldgclass[i],
                    f"{bl.condition[i]:.4f}",
                    OWNER_TRAITS[bl.owner_trait[i]],
                    OWNER_TRAITS[risk.trait[i, -1]],
                    f"{neglect_share[i]:.4f}",
                    f"{total[i]:.5f}",
                ]
                + [f"{p[i]:.5f}" for p in probs]
            )
        iso = batch.fmt.iso
        for ds, ev in cb.events.items():
            keys = ev.cols.get("natural_key", ev.cols["key"]).tolist()
            kinds = ev.cols["kind"].tolist()
            serious = ev.cols["serious"].tolist()
            for j, (b, day) in enumerate(zip(ev.b.tolist(), ev.day.tolist(), strict=False)):
                self._e.writerow([s.bbl[b], s.bin[b], ds, keys[j], iso(day)[:10], kinds[j], int(serious[j])])

    def close(self) -> None:
        self._rates.flush()
        del self._rates
        self._bfh.close()
        self._efh.close()
