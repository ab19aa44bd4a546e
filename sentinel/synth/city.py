"""Generating a synthetic city: batches of buildings, their hidden risk and their records, streamed to disk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from sentinel.synth.buildings import Buildings, make_buildings
from sentinel.synth.config import SynthConfig
from sentinel.synth.context import Batch, Events, IdCounters
from sentinel.synth.datasets import (
    dob_complaints,
    dob_safety,
    dob_violations,
    ecb_violations,
    hpd_complaints,
    hpd_vacate_orders,
    hpd_violations,
    pluto,
    registration_contacts,
    registrations,
    service_requests,
)
from sentinel.synth.dates import DateFormats, day_number
from sentinel.synth.ground_truth import GroundTruthWriter
from sentinel.synth.jsonarray import JsonArrayWriter
from sentinel.synth.risk import Months, months_between, simulate_risk

# Record datasets in draw order: later ones may use earlier ones' records (311 repeats HPD and DOB complaints).
EVENT_DATASETS: tuple[ModuleType, ...] = (
    hpd_violations,
    hpd_complaints,
    dob_complaints,
    dob_violations,
    dob_safety,
    ecb_violations,
    hpd_vacate_orders,
    service_requests,
)
# One row per building (or registration): they have no lifecycle events.
STATIC_DATASETS: tuple[ModuleType, ...] = (pluto, registrations, registration_contacts)
DATASET_IDS: tuple[str, ...] = tuple(m.DATASET_ID for m in EVENT_DATASETS + STATIC_DATASETS)

Progress = Callable[[int, int], None]  # (buildings done, buildings total)


@dataclass
class CityBatch:
    batch: Batch
    events: dict[str, Events] = field(default_factory=dict)


@dataclass
class CitySummary:
    rows: dict[str, int]
    as_of: int


class City:
    """A synthetic city for a config: deterministic, generated batch by batch on demand."""

    def __init__(self, config: SynthConfig) -> None:
        self.config = config
        self.months: Months = months_between(config.start, config.end)
        self.first_day = day_number(config.start)
        self.last_day = day_number(config.end)
        # Lifecycle dates run past the end (deadlines, hearings); a year and a half of margin covers them.
        self.fmt = DateFormats(self.first_day - 400, self.last_day + 4000)
        self.buildings: Buildings = make_buildings(config.rng(0), config.buildings)

    def batches(self) -> Iterator[CityBatch]:
        ids = IdCounters()
        size = self.config.batch_size
        for k, lo in enumerate(range(0, len(self.buildings), size)):
            bl = self.buildings.take(slice(lo, lo + size))
            rng = self.config.rng(1, k)
            batch = Batch(k, bl, self.months, simulate_risk(rng, bl, self.months), rng, self.fmt, ids, self.last_day)
            cb = CityBatch(batch)
            for module in EVENT_DATASETS:
                cb.events[module.DATASET_ID] = module.draw(batch, cb.events)
            yield cb


def write_city(
    config: SynthConfig, out: Path, as_of: int | None = None, progress: Progress | None = None
) -> CitySummary:
    """Write every dataset as `out/<dataset_id>.json` (one row per line) and the ground truth beside it."""
    out.mkdir(parents=True, exist_ok=True)
    city = City(config)
    as_of = city.last_day if as_of is None else as_of
    writers = {ds: JsonArrayWriter(out / f"{ds}.json") for ds in DATASET_IDS}
    truth = GroundTruthWriter(out / "ground_truth", city)
    done = 0
    try:
        for module in EVENT_DATASETS:
            for prelude_row in getattr(module, "prelude", list)():
                writers[module.DATASET_ID].write(prelude_row)
        for cb in city.batches():
            for module in EVENT_DATASETS:
                writers[module.DATASET_ID].write_many(list(module.rows(cb.batch, cb.events[module.DATASET_ID], as_of)))
            for module in STATIC_DATASETS:
                w = writers[module.DATASET_ID]
                for row in module.rows(cb.batch, as_of):
                    w.write(row)
            truth.add(cb)
            done += len(cb.batch.bldgs)
            if progress:
                progress(done, len(city.buildings))
    finally:
        for w in writers.values():
            w.close()
        truth.close()
    return CitySummary({ds: w.rows for ds, w in writers.items()}, as_of)
