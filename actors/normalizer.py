"""The borough normalizers (PipelineShape.normalizers, the boroughs shared among them): a fetched page's JSON in,
where it ends and its COPY text out.

Its own module so that a normalizer's worker imports only what normalizing needs (no psycopg, sodapy or
requests): every worker process of a new pipeline pays its imports in CPU on the machine it shares.
"""

from __future__ import annotations

import gc

import ray

from sentinel.datasets import DatasetConfig
from sentinel.ingest.copy_batch import CopyBatch
from sentinel.ingest.heap import keep_freed_memory
from sentinel.ingest.pages import PageMeta, normalize_body


@ray.remote(num_cpus=0.1, max_restarts=-1, max_task_retries=-1)
class BoroughNormalizer:
    def __init__(self, catalog: dict[str, DatasetConfig]):
        self._catalog = catalog
        # What the worker imported so far (Ray, pydantic, the catalog) lives as long as the process: out of the
        # cyclic GC's sight, its full collections stop rescanning it.
        gc.freeze()
        keep_freed_memory()

    @ray.method(num_returns=2)
    def normalize(self, dataset: str, body: bytes) -> tuple[PageMeta, CopyBatch]:
        return normalize_body(self._catalog[dataset], body)
