"""Generating a synthetic city: batches of buildings, their hidden risk and their records, streamed to disk."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from citysim.synth.buildings import Buildings, make_buildings
from citysim.synth.config import SynthConfig
from citysim.synth.context import Batch, Events, IdCounters
from citysim.synth.datasets import (
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
from citysim.synth.dates import DateFormats, day_number
from citysim.synth.ground_truth import GroundTruthWriter
from citysim.synth.jsonarray import JsonArrayWriter, json_file_name
from citysim.synth.risk import Months, months_between, simulate_risk

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
                batch.volume = self.config.volume(module.DATASET_ID)
                cb.events[module.DATASET_ID] = module.draw(batch, cb.events)
            batch.volume = 1.0
            yield cb


# The two shares of the output when two processes write a city, of about equal CPU cost (measured on a
# 5,000-building city): HPD violations and HPD complaints in one, 311, the small datasets and the ground truth in
# the other. Each process draws the whole city itself (deterministic per seed; drawing is about a sixth of the
# cost) and encodes only its share, so nothing but file names crosses between them.
SHARES: tuple[frozenset[str], frozenset[str]] = (
    frozenset({hpd_violations.DATASET_ID, hpd_complaints.DATASET_ID}),
    frozenset(DATASET_IDS) - {hpd_violations.DATASET_ID, hpd_complaints.DATASET_ID},
)

ROWS_PER_WRITE = 8192


def write_city(
    config: SynthConfig,
    out: Path,
    as_of: int | None = None,
    progress: Progress | None = None,
    workers: int = 1,
    truth: bool = True,
    datasets: frozenset[str] = frozenset(DATASET_IDS),
    compress: bool = False,
) -> CitySummary:
    """Write every dataset as `out/<dataset_id>.json` (one row per line) and the ground truth beside it.

    `workers=2` writes the two SHARES in two processes (the files are the same bytes as with one). `truth=False`
    leaves out the ground truth (at the real city's size its events.csv alone is one line per record). `datasets`
    writes only those files (the same bytes as in the whole city's: every dataset is still drawn). `compress`
    writes `<dataset_id>.json.zst` instead (zstd; the same bytes once decompressed)."""
    if workers not in (1, 2):
        raise ValueError(f"workers must be 1 or 2, got {workers}")
    unknown = set(datasets) - set(DATASET_IDS)
    if unknown:
        raise ValueError(f"unknown dataset ids {sorted(unknown)}; known: {', '.join(DATASET_IDS)}")
    out.mkdir(parents=True, exist_ok=True)
    city = City(config)
    as_of = city.last_day if as_of is None else as_of
    first, second = (share & datasets for share in SHARES)
    if workers == 1 or not (first and second):
        rows = write_share(city, out, as_of, datasets, truth=truth, progress=progress, compress=compress)
    else:
        # spawn, not fork: the caller may hold threads (a progress display, Ray) that a fork would copy mid-state.
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            other = pool.submit(_write_share_of, config, out, as_of, second, truth, compress)
            rows = write_share(city, out, as_of, first, truth=False, progress=progress, compress=compress)
            rows |= other.result()
    return CitySummary({ds: rows[ds] for ds in DATASET_IDS if ds in rows}, as_of)


def _write_share_of(
    config: SynthConfig, out: Path, as_of: int, datasets: frozenset[str], truth: bool, compress: bool
) -> dict[str, int]:
    return write_share(City(config), out, as_of, datasets, truth=truth, compress=compress)


def write_share(
    city: City,
    out: Path,
    as_of: int,
    datasets: frozenset[str],
    truth: bool,
    progress: Progress | None = None,
    compress: bool = False,
) -> dict[str, int]:
    """Write these datasets of the city (and the ground truth if `truth`); returns the rows per dataset."""
    events = [m for m in EVENT_DATASETS if m.DATASET_ID in datasets]
    static = [m for m in STATIC_DATASETS if m.DATASET_ID in datasets]
    writers = {m.DATASET_ID: JsonArrayWriter(out / json_file_name(m.DATASET_ID, compress)) for m in events + static}
    gt = GroundTruthWriter(out / "ground_truth", city) if truth else None
    done = 0
    try:
        for module in events:
            for prelude_row in getattr(module, "prelude", list)():
                writers[module.DATASET_ID].write(prelude_row)
        for cb in city.batches():
            for module in events:
                ev = cb.events[module.DATASET_ID]
                # In slices, so that the row strings alive at once do not depend on how busy a batch is.
                for lo in range(0, len(ev), ROWS_PER_WRITE):
                    select = np.arange(lo, min(lo + ROWS_PER_WRITE, len(ev)))
                    writers[module.DATASET_ID].write_many(list(module.rows(cb.batch, ev, as_of, select)))
            for module in static:
                w = writers[module.DATASET_ID]
                for row in module.rows(cb.batch, as_of):
                    w.write(row)
            if gt:
                gt.add(cb)
            done += len(cb.batch.bldgs)
            if progress:
                progress(done, len(city.buildings))
    finally:
        for w in writers.values():
            w.close()
        if gt:
            gt.close()
    return {ds: w.rows for ds, w in writers.items()}
