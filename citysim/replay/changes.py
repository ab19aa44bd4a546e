"""A "day" of changes to the replayed datasets, as the city's publishers produce them.

Changes file (JSON)::

    {
      "at": "2026-11-26T14:50:00.000Z",          # optional; default now (always after the stored rows)
      "datasets": {
        "wvxf-dwi5": {
          "upsert": [{"violationid": "1", "violationstatus": "Close"}],  # merge by key, or insert
          "insert": [...], "update": [...],                                # strict variants
          "delete": ["10000197"]                                            # natural keys
        },
        "eabe-havv": {"replace": [...rows...]}   # full replace: every :id, :created_at, :updated_at changes
      }
    }

Updated rows keep `:id` and `:created_at` and get the new `:updated_at`; a field set to null is removed. Every
dataset the day changes (a replace, even an empty one, or any row inserted, updated or deleted) gets a new
`rowsUpdatedAt` in its metadata (`/api/views/<id>.json`), as the portal moves it at each publish.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from citysim.replay.dataset_stores import AnyStore
from citysim.replay.schemas import schema_for
from citysim.replay.soql import normalize_timestamp

_OPERATIONS = ("replace", "delete", "insert", "update", "upsert")


def load_changes(path: str | Path) -> dict[str, Any]:
    data = orjson.loads(Path(path).read_bytes())
    validate_changes(data)
    return data


def validate_changes(changes: Any) -> None:
    if not isinstance(changes, dict) or not isinstance(changes.get("datasets"), dict):
        raise ValueError('changes must be a JSON object with a "datasets" object')
    for ds, ops in changes["datasets"].items():
        if not isinstance(ops, dict):
            raise ValueError(f"{ds}: expected an object of operations")
        unknown = set(ops) - set(_OPERATIONS)
        if unknown:
            raise ValueError(f"{ds}: unknown operations {sorted(unknown)}; use {list(_OPERATIONS)}")
        for op, items in ops.items():
            if not isinstance(items, list):
                raise ValueError(f"{ds}.{op}: expected a list")
            if op != "delete" and not all(isinstance(r, dict) for r in items):
                raise ValueError(f"{ds}.{op}: expected a list of row objects")


def apply_changes(store: AnyStore, changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Apply a day of changes in place; returns per-dataset counts and the `:updated_at` they carry."""
    validate_changes(changes)
    at_raw = changes.get("at")
    requested_at = normalize_timestamp(at_raw, fixed=True) if at_raw else None
    summary: dict[str, dict[str, Any]] = {}
    for ds, ops in changes["datasets"].items():
        store.ensure_table(ds)
        at = store.next_timestamp(ds, requested_at)
        before = store.rows_updated_epoch(ds)
        result: dict[str, Any] = {"updated_at": at, "inserted": 0, "updated": 0, "deleted": 0, "replaced": 0}
        if "replace" in ops:
            result["replaced"] = store.replace(ds, ops["replace"], at)
        if ops.get("delete"):
            result["deleted"] = store.delete(ds, [str(k) for k in ops["delete"]])
        for mode in ("insert", "update", "upsert"):
            if ops.get(mode):
                counts = store.upsert(ds, ops[mode], at, mode=mode)
                result["inserted"] += counts["inserted"]
                result["updated"] += counts["updated"]
        if "replace" in ops or any(ops.get(op) for op in _OPERATIONS):
            # What the ingester asks before re-reading a full-replace dataset (sentinel/ingest/source_version.py).
            result["rows_updated_at"] = store.mark_published(ds, at, before)
        result["key"] = schema_for(ds).key
        summary[ds] = result
    store.set_meta("pristine", "0")  # a cached store with changes is no longer the snapshot on disk
    return summary
