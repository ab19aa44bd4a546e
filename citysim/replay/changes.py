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

`apply_changes` takes the document parsed; `apply_changes_file` reads a file as it applies it, for days too large to
hold (the whole city's: every DOB complaint each day).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from citysim.replay.change_stream import OPERATIONS as _OPERATIONS
from citysim.replay.change_stream import ChangeBatch, read_change_file
from citysim.replay.dataset_stores import AnyStore
from citysim.replay.schemas import schema_for
from citysim.replay.soql import normalize_timestamp

FILE_BATCH_ROWS = 20_000  # rows of a changes file held at once while it is applied as it is read


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
    """Apply a day of changes in place; returns per-dataset counts and the `:updated_at` they carry. The whole
    document is checked before anything is written."""
    validate_changes(changes)
    at_raw = changes.get("at")
    requested_at = normalize_timestamp(at_raw, fixed=True) if at_raw else None
    summary: dict[str, dict[str, Any]] = {}
    for ds, ops in changes["datasets"].items():
        publish = _DatasetPublish(store, ds, requested_at)
        for op in _OPERATIONS:  # in this order, whatever the document's
            if op in ops:
                publish.apply(op, [ops[op]])
        summary[ds] = publish.finish()
    store.set_meta("pristine", "0")  # a cached store with changes is no longer the snapshot on disk
    return summary


def apply_changes_file(store: AnyStore, path: Path, batch_rows: int = FILE_BATCH_ROWS) -> dict[str, dict[str, Any]]:
    """`apply_changes` of a changes file read as it is applied (citysim/replay/change_stream.py): a batch of rows in
    memory at a time, not the day. The same result as the document applied whole, as long as the file's operations
    stand in the order apply_changes applies them (replace, delete, insert, update, upsert; an empty one anywhere),
    which is checked, and `at` comes before `datasets`. Each batch is checked before it is written, so a bad row
    stops the publish after the batches before it (a document applied whole writes nothing then)."""
    requested_at: str | None = None
    summary: dict[str, dict[str, Any]] = {}
    publish: _DatasetPublish | None = None
    for operation, group in itertools.groupby(read_change_file(path, batch_rows), key=_operation_of):
        if operation is None:
            if summary or publish is not None:
                raise ValueError(f'{path}: "at" must come before "datasets" in a file applied as it is read')
            requested_at = normalize_timestamp(str(next(group)), fixed=True)
            continue
        dataset_id, op = operation
        if publish is None or publish.dataset_id != dataset_id:
            if publish is not None:
                summary[publish.dataset_id] = publish.finish()
            if dataset_id in summary:
                raise ValueError(f"{dataset_id}: appears twice in {path}")
            publish = _DatasetPublish(store, dataset_id, requested_at)
        publish.apply(op, (batch.items for batch in group if isinstance(batch, ChangeBatch)))
    if publish is not None:
        summary[publish.dataset_id] = publish.finish()
    store.set_meta("pristine", "0")
    return summary


def _operation_of(event: str | ChangeBatch) -> tuple[str, str] | None:
    return (event.dataset_id, event.op) if isinstance(event, ChangeBatch) else None


class _DatasetPublish:
    """One dataset's part of a day, applied operation by operation (`apply` once per operation, in _OPERATIONS'
    order; its items in one batch or several), then `finish`ed: what apply_changes and apply_changes_file share."""

    def __init__(self, store: AnyStore, dataset_id: str, requested_at: str | None) -> None:
        self.store, self.dataset_id = store, dataset_id
        store.ensure_table(dataset_id)
        self.at = store.next_timestamp(dataset_id, requested_at)
        self.before = store.rows_updated_epoch(dataset_id)
        self.result: dict[str, Any] = {"updated_at": self.at, "inserted": 0, "updated": 0, "deleted": 0, "replaced": 0}
        self.last = -1  # the position in _OPERATIONS of the last operation that changed something (-1: none yet)
        self.written = dict.fromkeys(_OPERATIONS, 0)  # rows each operation has written so far

    def apply(self, op: str, batches: Iterable[list[Any]]) -> None:
        if op == "replace":  # even an empty replace empties the dataset
            self._in_order(op)
            rows = (row for items in batches for row in self._rows(op, items))
            self.result["replaced"] = self.store.replace(self.dataset_id, rows, self.at)
            return
        for items in batches:
            if not items:
                continue
            self._in_order(op)
            if op == "delete":
                self.result["deleted"] += self.store.delete(self.dataset_id, [str(k) for k in items])
            else:
                counts = self.store.upsert(
                    self.dataset_id, list(self._rows(op, items)), self.at, mode=op, first_index=self.written[op]
                )
                self.written[op] += len(items)
                self.result["inserted"] += counts["inserted"]
                self.result["updated"] += counts["updated"]

    def _in_order(self, op: str) -> None:
        position = _OPERATIONS.index(op)
        if position < self.last:
            raise ValueError(
                f"{self.dataset_id}: {op} after {_OPERATIONS[self.last]}; a file applied as it is read applies its "
                f"operations in its order, which must be {', '.join(_OPERATIONS)}"
            )
        self.last = position

    def _rows(self, op: str, items: Iterable[Any]) -> Iterator[dict[str, Any]]:
        for row in items:
            if not isinstance(row, dict):
                raise ValueError(f"{self.dataset_id}.{op}: expected a list of row objects")
            yield row

    def finish(self) -> dict[str, Any]:
        if self.last >= 0:
            # What the ingester asks before re-reading a full-replace dataset (sentinel/ingest/source_version.py).
            self.result["rows_updated_at"] = self.store.mark_published(self.dataset_id, self.at, self.before)
        self.result["key"] = schema_for(self.dataset_id).key
        return self.result
