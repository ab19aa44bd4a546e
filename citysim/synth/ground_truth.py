"""The generator's hidden truth, written beside the data so models can be scored against the limit.

* `ground_truth/buildings.csv`: one row per building: keys, attributes, hidden condition and owner behaviour, and
  `p_serious_<YYYY-MM>`: the true probability of at least one new serious event (HPD class C, ECB hazardous, DOB
  unsafe-building violation, HPD vacate order) in the 12 months starting that month, for every whole year
  from the start.
* `ground_truth/serious_rate_monthly.npy`: float32 [building, month], the expected number of serious events per
  building and month, rows in buildings.csv order, months in `months.txt`; any 12-month window's probability is
  1 - exp(-sum of its months) (see `citysim.synth.oracle`).
* `ground_truth/events.csv`: every simulated record with its date, kind and whether it is serious (including
  records dated after the snapshot's as-of day, which are the future the model must predict).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from citysim.synth.buildings import OWNER_TRAITS
from citysim.synth.geography import BOROUGHS
from citysim.synth.risk import SERIOUS_DATASETS, SERIOUS_SHARES, window_probability

if TYPE_CHECKING:
    from citysim.synth.city import City, CityBatch

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
        # The serious kinds are drawn at their dataset's volume factor, so the true rate is the weighted sum.
        self.serious_volume = sum(
            share * city.config.volume(SERIOUS_DATASETS[kind]) for kind, share in SERIOUS_SHARES.items()
        )
        (out / "months.txt").write_text("\n".join(months.labels) + "\n")
        # Appended batch by batch through a file, not a memmap: the pages of a written memmap stay in the process's
        # resident set, so its peak RSS grew with the number of buildings.
        self._rfh = (out / "serious_rate_monthly.npy").open("wb")
        header = {"descr": np.dtype("<f4").str, "fortran_order": False, "shape": (len(city.buildings), months.count)}
        np.lib.format.write_array_header_1_0(self._rfh, header)
        self._bfh = (out / "buildings.csv").open("w", newline="")
        self._b = csv.writer(self._bfh)
        self._b.writerow(BUILDING_COLUMNS + [f"p_serious_{months.labels[w]}" for w in self.windows])
        self._efh = (out / "events.csv").open("w", newline="")
        csv.writer(self._efh).writerow(EVENT_COLUMNS)

    def add(self, cb: CityBatch) -> None:
        batch = cb.batch
        bl, risk, s = batch.bldgs, batch.risk, batch.s
        n = len(bl)
        rate = risk.serious_rate if self.serious_volume == 1.0 else risk.serious_rate * self.serious_volume
        self._rfh.write(rate.astype("<f4").tobytes())
        probs = [window_probability(rate, w) for w in self.windows]
        neglect_share = risk.neglect.mean(axis=1)
        total = rate.sum(axis=1)
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
        self._add_events(cb)

    def _add_events(self, cb: CityBatch) -> None:
        """events.csv lines joined per dataset and batch, as csv.writer would write them: no field needs quoting
        (digits, letters, dashes and underscores only) and lines end in CRLF, csv's default."""
        s, day_date = cb.batch.s, cb.batch.fmt.by_day_date
        where = [f"{bbl},{bin_}," for bbl, bin_ in zip(s.bbl, s.bin, strict=True)]
        for ds, ev in cb.events.items():
            keys = ev.cols.get("natural_key", ev.cols["key"]).tolist()
            tail = [
                f",{kind},{int(serious)}\r\n"
                for kind, serious in zip(ev.cols["kind"].tolist(), ev.cols["serious"].tolist(), strict=True)
            ]
            lines = [
                f"{where[b]}{ds},{key},{day_date[day]}{t}"
                for b, key, day, t in zip(ev.b.tolist(), keys, ev.day.tolist(), tail, strict=True)
            ]
            self._efh.write("".join(lines))

    def close(self) -> None:
        self._rfh.close()
        self._bfh.close()
        self._efh.close()
