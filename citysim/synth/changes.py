"""Days of changes for the replay server: what changed in the city on a day, as upserts per dataset.

Document format: the replay server's changes file (citysim/replay/changes.py), of which this uses a subset:

    {"at": "2024-03-05T14:50:00.000Z",
     "datasets": {"<dataset_id>": {"upsert": [<row>, ...], "delete": []}, ...}}

* `at`: when the day's changes were published (HPD's daily file lands about 14:50 UTC).
* `upsert`: full rows in the dataset's API JSON form, keyed by the dataset's natural key (violationid,
  problem_id, complaint_number, isn_dob_bis_viol, violation_number, ecb_violation_number, vacate_order_number,
  unique_key); a new key is an insert, else the row is merged over the stored one. Fields only ever appear
  during a record's life (a certified date, a closing date), never disappear, so merging a full row is exact.
* `delete`: always empty: the synthetic city never deletes (Socrata never exposes deletions either).
* `replace` (only for the datasets in `DailyVolumes.replace`, e.g. DOB complaints in the real city's stream):
  every row of the dataset as it stands on the day, the publisher's daily full replace; no `upsert` then.
* Republished rows (`DailyVolumes.republish`): publishers re-upload far more rows a day than change (NYC: ~82k
  HPD violation rows a day against a few thousand new ones). A share of the existing rows, drawn per day, is
  upserted unchanged beside the real changes; the merge leaves them as they were.

(The first brief proposed `{"<dataset_id>": {"upsert", "delete", "replace": false}}`; the replay server was
written first with the form above, so this follows it.)

Applying day D's document to the snapshot written with `as_of = D - 1` gives exactly the snapshot written with
`as_of = D` for every record dataset, with or without republished rows and replaces. PLUTO, registrations and
contacts are static files and never appear.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from citysim.synth.city import EVENT_DATASETS, City
from citysim.synth.config import SynthConfig
from citysim.synth.dates import day_number
from citysim.synth.jsonarray import JsonArrayWriter, json_file_name, open_for_writing

ChangeDocument = dict[str, Any]


@dataclass(frozen=True)
class DailyVolumes:
    """What a day's documents carry beyond the city's own changes (default: nothing)."""

    # (dataset_id, share of the dataset's existing rows republished unchanged each day)
    republish: tuple[tuple[str, float], ...] = ()
    # datasets the publisher replaces in full every day
    replace: frozenset[str] = frozenset()


def write_changes(
    config: SynthConfig,
    days: Iterable[date],
    out: Path,
    volumes: DailyVolumes = DailyVolumes(),
    datasets: frozenset[str] | None = None,
    compress: bool = False,
) -> list[Path]:
    """Write `out/<YYYY-MM-DD>.json` (`.json.zst` if `compress`) for each day in one pass over the city; returns the
    paths.

    Rows are streamed into one part file per day and dataset and the parts joined per day, so memory does not
    grow with the city or the number of rows a day carries (a full replace of DOB complaints is the whole
    dataset every day). `datasets`: only these datasets' changes (default all)."""
    days = sorted(set(days))
    modules = [m for m in EVENT_DATASETS if datasets is None or m.DATASET_ID in datasets]
    out.mkdir(parents=True, exist_ok=True)
    parts_dir = Path(tempfile.mkdtemp(prefix=".parts-", dir=out))
    republish = dict(volumes.republish)
    numbers = {d: day_number(d) for d in days}
    writers = {
        (d, m.DATASET_ID): JsonArrayWriter(parts_dir / f"{d.isoformat()}.{m.DATASET_ID}") for d in days for m in modules
    }
    try:
        for cb in City(config).batches():
            for k, module in enumerate(EVENT_DATASETS):
                ds = module.DATASET_ID
                if module not in modules:
                    continue
                ev = cb.events[ds]
                lifecycle = module.change_days(ev)
                for d, n in numbers.items():
                    if ds in volumes.replace:
                        select = np.arange(len(ev))  # rows() keeps those that exist on the day
                    else:
                        changed = np.zeros(len(ev), dtype=bool)
                        for arr in lifecycle:
                            changed |= arr == n
                        if ds in republish:
                            draw = config.rng(4, n, cb.batch.index, k).random(len(ev))
                            changed |= draw < republish[ds]
                        select = np.flatnonzero(changed)
                    if select.size:
                        writers[(d, ds)].write_many(list(module.rows(cb.batch, ev, n, select)))
        for w in writers.values():
            w.close()
        paths = []
        for d in days:
            path = out / json_file_name(d.isoformat(), compress)
            with open_for_writing(path) as fh:
                fh.write(b'{"at":"' + f"{d.isoformat()}T14:50:00.000Z".encode() + b'","datasets":{')
                for i, module in enumerate(modules):
                    ds = module.DATASET_ID
                    op = "replace" if ds in volumes.replace else "upsert"
                    fh.write(("," if i else "").encode() + f'"{ds}":{{"{op}":'.encode())
                    with (parts_dir / f"{d.isoformat()}.{ds}").open("rb") as part:
                        shutil.copyfileobj(part, fh)
                    fh.write(b',"delete":[]}')
                fh.write(b"}}\n")
            paths.append(path)
        return paths
    finally:
        for w in writers.values():
            w.close()
        shutil.rmtree(parts_dir, ignore_errors=True)


def days_of_changes(
    config: SynthConfig, days: list[date], volumes: DailyVolumes = DailyVolumes()
) -> dict[date, ChangeDocument]:
    """The change documents of several days as objects (for small cities: they are held in memory)."""
    with tempfile.TemporaryDirectory() as tmp:
        write_changes(config, days, Path(tmp), volumes)
        return {d: orjson.loads((Path(tmp) / f"{d.isoformat()}.json").read_bytes()) for d in sorted(set(days))}
