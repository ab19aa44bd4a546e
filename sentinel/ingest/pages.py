"""A fetched page, from the bytes the source sent to the COPY text the writer streams: parsed once, normalized,
encoded. Both runners call it: the Ray borough normalizers (actors/normalizer.py) and the serial runner (run.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson

from sentinel.datasets import DatasetConfig
from sentinel.ingest.copy_batch import CopyBatch, encode_batch
from sentinel.normalize import cyclic_gc_paused, normalize_page


@dataclass(frozen=True, slots=True)
class PageMeta:
    """Where a page ends: the next page is read after `last_row`; the watermark may move to `max_updated_at`."""

    rows: int
    last_row: dict[str, Any] | None
    max_updated_at: str | None


def page_max_updated_at(rows: list[dict[str, Any]]) -> str | None:
    # Fixed timestamps of one format compare correctly as strings; every row carries :updated_at when `:*` is
    # selected, so the scan runs in C and only a page that lacks it somewhere takes the filtering loop.
    try:
        return max(map(itemgetter(":updated_at"), rows), default=None)
    except KeyError:
        return max((r[":updated_at"] for r in rows if ":updated_at" in r), default=None)


def normalize_body(config: DatasetConfig, body: bytes) -> tuple[PageMeta, CopyBatch]:
    """A page's JSON -> where it ends and its rows as COPY text (rejects and skips included)."""
    with cyclic_gc_paused():  # the parse too: a page is ~300,000 new tracked objects
        rows = orjson.loads(body)
        meta = PageMeta(len(rows), rows[-1] if rows else None, page_max_updated_at(rows))
        return meta, encode_batch(normalize_page(config, rows))
