"""Normalization of raw Socrata records into canonical rows: one module per dataset, all with
`normalize(raw: dict) -> row | tuple of rows`, found through configs/datasets.yaml. Never imports ray."""

from sentinel.normalize.outcome import RejectRecord, SkipRecord
from sentinel.normalize.page import NormalizedBatch, Reject, cyclic_gc_paused, normalize_page, normalize_sent_page
from sentinel.normalize.registry import Normalizer, normalizer_for, normalizers_for, resolve_dataset

__all__ = [
    "NormalizedBatch",
    "Normalizer",
    "Reject",
    "RejectRecord",
    "SkipRecord",
    "cyclic_gc_paused",
    "normalize_page",
    "normalize_sent_page",
    "normalizer_for",
    "normalizers_for",
    "resolve_dataset",
]
