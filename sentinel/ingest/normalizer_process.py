"""The local engine's normalizer processes (sentinel/ingest/local_engine.py): a fetched page's JSON in, where it
ends and its COPY text out, as the Ray borough normalizers do (actors/normalizer.py).

Its own module, imported by the process server that forks them, so that a normalizer imports only what
normalizing needs (no psycopg, requests or the CLI)."""

from __future__ import annotations

import gc

from sentinel.datasets import DatasetConfig
from sentinel.ingest.copy_batch import CopyBatch
from sentinel.ingest.heap import keep_freed_memory
from sentinel.ingest.pages import PageMeta, normalize_body

_catalog: dict[str, DatasetConfig] = {}


def start(catalog: dict[str, DatasetConfig]) -> None:
    """A new normalizer process: the run's catalog, and its heap kept between pages."""
    _catalog.update(catalog)
    # What the process imported lives as long as it: out of the cyclic GC's sight, its full collections stop
    # rescanning it.
    gc.freeze()
    keep_freed_memory()


def normalize(dataset: str, body: bytes) -> tuple[PageMeta, CopyBatch]:
    return normalize_body(_catalog[dataset], body)
