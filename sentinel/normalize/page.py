"""Normalizing a page of raw records: rows per target table, rejects with reasons, skips, warnings."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from sentinel.datasets import DatasetConfig
from sentinel.normalize.outcome import RejectRecord, SkipRecord
from sentinel.normalize.registry import Normalizer, normalizer_for, resolve_dataset
from sentinel.quality import count_warnings, reason_kind
from sentinel.records import RECORD_KEEPING_ROWS, Row


@dataclass(slots=True)
class Reject:
    """One row for the `rejects` table (run_id is the writer's to add)."""

    dataset: str
    source_key: str | None
    reason: str
    raw: dict[str, Any]


@dataclass(slots=True)
class NormalizedBatch:
    dataset: str
    rows: dict[str, list[Row]] = field(default_factory=dict)  # target table -> rows, unique by key
    rejects: list[Reject] = field(default_factory=list)
    skipped: int = 0
    warnings: int = 0  # field-level warnings over all rows (each row carries its own list)
    duplicates: int = 0  # records of the dataset's own table whose key was already in the page
    quality: dict[tuple[str, str], int] = field(default_factory=dict)  # (field, reason) -> rows with it
    reject_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def row_count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    def rows_for(self, table: str) -> list[Row]:
        return self.rows.get(table, [])


def normalize_page(
    dataset: str | DatasetConfig,
    records: Iterable[dict[str, Any]],
    normalizer: Normalizer | None = None,
    datasets: dict[str, DatasetConfig] | None = None,
) -> NormalizedBatch:
    """Normalize raw records of one dataset. Pure: no I/O, nothing dropped silently.

    Rows are de-duplicated by key within the page because one `INSERT .. ON CONFLICT DO UPDATE` cannot touch
    the same key twice; incremental pages overlap at their boundaries, registrations repeat BINs and DOB
    complaints repeat complaint numbers. The later record wins unless it has an older status_date.
    """
    config, fn = _resolved(dataset, normalizer, datasets)
    with cyclic_gc_paused():
        return _normalize_all(config, zip(records, repeat(None)), fn)


def normalize_sent_page(
    dataset: str | DatasetConfig,
    sent: Iterable[tuple[dict[str, Any], bytes]],
    normalizer: Normalizer | None = None,
    datasets: dict[str, DatasetConfig] | None = None,
) -> NormalizedBatch:
    """`normalize_page` over records each with its JSON as the source sent it: a violation or complaint row
    keeps that text (`source_text`) for its page of records (sentinel/source_pages.py), which then need not
    serialize the record again."""
    config, fn = _resolved(dataset, normalizer, datasets)
    with cyclic_gc_paused():
        return _normalize_all(config, sent, fn)


def _resolved(
    dataset: str | DatasetConfig, normalizer: Normalizer | None, datasets: dict[str, DatasetConfig] | None
) -> tuple[DatasetConfig, Normalizer]:
    config = dataset if isinstance(dataset, DatasetConfig) else resolve_dataset(dataset, datasets)
    return config, normalizer or normalizer_for(config)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Every parsed record and kept row adds tracked objects, so CPython's cyclic GC runs hundreds of times per
    page and rescans everything the process holds; parsing and normalizing create no reference cycles, so
    pausing it is safe (refcounting still frees everything) and saves a measurable share of the page time
    (benchmarks/RESULTS.md, "Ingestion"). Left alone if the caller already paused it."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _normalize_all(
    config: DatasetConfig, records: Iterable[tuple[dict[str, Any], bytes | None]], fn: Normalizer
) -> NormalizedBatch:
    key_field = config.natural_key
    target = config.target_table
    batch = NormalizedBatch(dataset=config.name)
    by_table: dict[str, dict[Any, Row]] = {}
    warnings = 0
    seen = 0
    for raw, text in records:
        try:
            out = fn(raw)
        except SkipRecord:
            batch.skipped += 1
            continue
        except RejectRecord as exc:
            batch.rejects.append(Reject(config.name, _key_of(raw, key_field), exc.reason, raw))
            continue
        except Exception as exc:
            # A normalizer bug on one record must not lose the page: the record is rejected with the error.
            reason = f"normalizer error: {type(exc).__name__}: {exc}"
            batch.rejects.append(Reject(config.name, _key_of(raw, key_field), reason, raw))
            continue
        for row in out if type(out) is tuple else (out,):
            if text is not None and type(row) in RECORD_KEEPING_ROWS and row.raw is raw:  # type: ignore[union-attr]
                row.source_text = text  # type: ignore[union-attr]
            table = by_table.get(row.table)
            if table is None:
                table = by_table[row.table] = {}
            key = row.key
            previous = table.get(key)
            if previous is None or not _older(row, previous):
                table[key] = row
            if row.warnings:
                warnings += len(row.warnings)
                count_warnings(batch.quality, row.warnings)
            if row.table == target:
                seen += 1
    batch.rows = {name: list(rows.values()) for name, rows in by_table.items()}
    batch.warnings = warnings
    batch.duplicates = seen - len(batch.rows.get(target, ()))
    for reject in batch.rejects:
        kind = reason_kind(reject.reason)
        batch.reject_reasons[kind] = batch.reject_reasons.get(kind, 0) + 1
    return batch


def _older(row: Row, previous: Row) -> bool:
    """True if `row` is an older state of the same record than `previous` (so `previous` stays).

    DOB complaints (eabe-havv) repeat a complaint_number once per disposition, with the same :updated_at after
    a full replace: the newest status_date is the complaint's current state. Otherwise the later record wins.
    """
    new = getattr(row, "status_date", None)
    old = getattr(previous, "status_date", None)
    return new is not None and old is not None and new < old


def _key_of(raw: dict[str, Any], key_field: str) -> str | None:
    value = raw.get(key_field)
    if value is None:
        return None
    return str(value).strip() or None
