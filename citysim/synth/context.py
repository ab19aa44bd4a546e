"""What every dataset generator of a batch of buildings shares: the buildings, their hidden risk path, the
months, the random stream, the id counters and the string forms of the building fields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import orjson

from citysim.synth.buildings import Buildings
from citysim.synth.dates import DateFormats
from citysim.synth.geography import BOROUGHS
from citysim.synth.risk import Months, RiskPath


@dataclass
class IdCounters:
    """Sequential ids per dataset, carried from batch to batch so ids are unique and deterministic."""

    next: dict[str, int] = field(default_factory=dict)

    def take(self, name: str, count: int, first: int) -> np.ndarray:
        start = self.next.get(name, first)
        self.next[name] = start + count
        return np.arange(start, start + count, dtype=np.int64)


@dataclass
class Events:
    """One dataset's records of a batch as column arrays (index b = building within the batch)."""

    b: np.ndarray
    day: np.ndarray  # the event's own date (inspection, issue, receipt), a day number
    cols: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.b)

    def published_index(self, as_of: int, select: np.ndarray | None = None) -> np.ndarray:
        """The records out by `as_of` (of `select`, when given)."""
        return np.flatnonzero(self.day <= as_of) if select is None else select[self.day[select] <= as_of]

    def published(
        self, as_of: int, select: np.ndarray | None = None
    ) -> tuple[list[int], list[int], dict[str, list[Any]]]:
        """The records out by `as_of`: their buildings, days and columns as Python lists (fast in row loops)."""
        idx = self.published_index(as_of, select)
        return self.b[idx].tolist(), self.day[idx].tolist(), {k: v[idx].tolist() for k, v in self.cols.items()}


@dataclass
class Batch:
    index: int
    bldgs: Buildings
    months: Months
    risk: RiskPath
    rng: np.random.Generator
    fmt: DateFormats
    ids: IdCounters
    last_day: int  # the last simulated day
    volume: float = 1.0  # the config's volume factor of the dataset being drawn (City.batches sets it)

    def draw(self, rate: np.ndarray) -> Events:
        """Poisson counts per (building, month) expanded to one record each, on a uniform day of its month."""
        counts = self.rng.poisson(rate if self.volume == 1.0 else rate * self.volume)
        flat = counts.ravel()
        cells = np.repeat(np.arange(flat.size), flat)
        b, m = np.divmod(cells, counts.shape[1])
        start, end = self.months.start_day[m], self.months.end_day[m]
        day = start + (self.rng.random(len(m)) * (end - start + 1)).astype(np.int64)
        return Events(b=b, day=day, cols={"month": m})

    def draw_with_serious(self, rate: np.ndarray, serious_rate: np.ndarray) -> Events:
        """Ordinary records at one rate, then serious ones at another, as one set: `serious` marks the second."""
        plain, serious = self.draw(rate), self.draw(serious_rate)
        return Events(
            b=np.r_[plain.b, serious.b],
            day=np.r_[plain.day, serious.day],
            cols={
                "month": np.r_[plain.cols["month"], serious.cols["month"]],
                "serious": np.r_[np.zeros(len(plain), bool), np.ones(len(serious), bool)],
            },
        )

    @cached_property
    def s(self) -> BuildingStrings:
        return BuildingStrings(self.bldgs)


class BuildingStrings:
    """The building fields as the strings the datasets print, computed once per batch."""

    def __init__(self, bl: Buildings) -> None:
        boros = [BOROUGHS[b - 1] for b in bl.boro.tolist()]
        self.boroid = [str(b.code) for b in boros]
        self.boro_name = [b.name for b in boros]
        self.boro_short = [b.short for b in boros]
        self.boro_title = [b.title for b in boros]
        self.dob_unit = [b.unit for b in boros]
        self.block = [str(x) for x in bl.block.tolist()]
        self.lot = [str(x) for x in bl.lot.tolist()]
        self.block5 = [f"{x:05d}" for x in bl.block.tolist()]
        self.lot4 = [f"{x:04d}" for x in bl.lot.tolist()]
        self.lot5 = [f"{x:05d}" for x in bl.lot.tolist()]
        self.bbl = [
            f"{b}{k:05d}{lt:04d}"
            for b, k, lt in zip(bl.boro.tolist(), bl.block.tolist(), bl.lot.tolist(), strict=False)
        ]
        self.bin = [str(x) for x in bl.bin.tolist()]
        self.building_id = [str(x) for x in bl.building_id.tolist()]
        self.registration_id = [str(x) for x in bl.registration_id.tolist()]
        self.house = [
            f"{p}-{h:02d}" if p else str(h) for p, h in zip(bl.house_prefix.tolist(), bl.house.tolist(), strict=False)
        ]
        self.street = [b.streets[i][0] for b, i in zip(boros, bl.street.tolist(), strict=False)]
        self.streetcode = [b.streets[i][1] for b, i in zip(boros, bl.street.tolist(), strict=False)]
        self.zip = [b.zips[i] for b, i in zip(boros, bl.zip_index.tolist(), strict=False)]
        self.nta = [b.ntas[i] for b, i in zip(boros, bl.nta_index.tolist(), strict=False)]
        self.cb = [str(x) for x in bl.community_board.tolist()]
        # DOB community boards are boro digit + 2-digit district ("103").
        self.cb3 = [f"{b.code}{c:02d}" for b, c in zip(boros, bl.community_board.tolist(), strict=False)]
        self.cb311 = [f"{c:02d} {b.name}" for b, c in zip(boros, bl.community_board.tolist(), strict=False)]
        self.council = [str(x) for x in bl.council.tolist()]
        self.tract = [str(x) for x in bl.census_tract.tolist()]
        self.lat = [f"{x:.6f}" for x in bl.latitude.tolist()]
        self.lon = [f"{x:.6f}" for x in bl.longitude.tolist()]
        self.lat_f = bl.latitude.tolist()
        self.lon_f = bl.longitude.tolist()
        self.units = bl.units.tolist()
        self.floors = bl.floors.tolist()
        self._fragments: dict[str, list[str]] = {}

    def hpd_building(self, b: int) -> dict[str, str]:
        """The building fields every HPD dataset prints: its registration's building, address and lot."""
        return {
            "buildingid": self.building_id[b],
            "registrationid": self.registration_id[b],
            "boroid": self.boroid[b],
            "boro": self.boro_name[b],
            "housenumber": self.house[b],
            "lowhousenumber": self.house[b],
            "highhousenumber": self.house[b],
            "streetname": self.street[b],
            "streetcode": self.streetcode[b],
            "zip": self.zip[b],
            "block": self.block[b],
            "lot": self.lot[b],
        }

    def fragments(self, name: str, fields: Callable[[int], dict[str, Any]]) -> list[str]:
        """Per building, its fields of a dataset encoded once as JSON members (`"k":"v",...`, the inside of an
        object), so that a row encodes its building in one string append. Field order inside a JSON object
        carries no meaning; readers key by name."""
        if name not in self._fragments:
            self._fragments[name] = [orjson.dumps(fields(b))[1:-1].decode() for b in range(len(self.bin))]
        return self._fragments[name]
