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
  Full replaces (`replace`) are not used.

(The first brief proposed `{"<dataset_id>": {"upsert", "delete", "replace": false}}`; the replay server was
written first with the form above, so this follows it.)

Applying day D's document to the snapshot written with `as_of = D - 1` gives exactly the snapshot written with
`as_of = D` for every record dataset. PLUTO, registrations and contacts are static files and never appear.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from citysim.synth.city import EVENT_DATASETS, City
from citysim.synth.config import SynthConfig
from citysim.synth.dates import day_number

ChangeDocument = dict[str, Any]


def days_of_changes(config: SynthConfig, days: list[date]) -> dict[date, ChangeDocument]:
    """The change documents of several days, in one pass over the city."""
    city = City(config)
    numbers = {d: day_number(d) for d in days}
    docs: dict[date, ChangeDocument] = {
        d: {
            "at": f"{d.isoformat()}T14:50:00.000Z",
            "datasets": {m.DATASET_ID: {"upsert": [], "delete": []} for m in EVENT_DATASETS},
        }
        for d in days
    }
    for cb in city.batches():
        for module in EVENT_DATASETS:
            ev = cb.events[module.DATASET_ID]
            lifecycle = module.change_days(ev)
            for d, n in numbers.items():
                changed = np.zeros(len(ev), dtype=bool)
                for arr in lifecycle:
                    changed |= arr == n
                select = np.flatnonzero(changed)
                if select.size:
                    upserts = docs[d]["datasets"][module.DATASET_ID]["upsert"]
                    upserts.extend(orjson.loads(row) for row in module.rows(cb.batch, ev, n, select))
    return docs


def write_changes(config: SynthConfig, days: list[date], out: Path) -> list[Path]:
    """Write `out/<YYYY-MM-DD>.json` for each day; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for d, doc in days_of_changes(config, days).items():
        path = out / f"{d.isoformat()}.json"
        path.write_bytes(orjson.dumps(doc))
        paths.append(path)
    return paths
