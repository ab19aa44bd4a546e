"""A fetched page, from the bytes the source sent to the COPY text the writer streams: parsed once, normalized,
encoded. Every runner calls it: the Ray borough normalizers (actors/normalizer.py), the local engine's normalizer
processes (normalizer_process.py) and the serial runner (run.py).

Socrata writes a page one row per line (`[{...}\\n,{...}\\n,{...}]`, shared/NYC_DATA.md), so a page in that layout
is parsed `PARSE_CHUNK_LINES` rows at a time and each chunk's records are normalized (and freed) before the next
is parsed: the page's parsed records, the largest thing a normalizer held, and the parser's scratch for the whole
page are never in memory at once. Any other layout is parsed whole; both give the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson

from sentinel.datasets import DatasetConfig
from sentinel.ingest.copy_batch import CopyBatch, encode_batch
from sentinel.normalize import cyclic_gc_paused, normalize_page

PARSE_CHUNK_LINES = 1_000


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


class _LayoutError(Exception):
    """The page looked like one row per line but is not: it is parsed whole instead."""


class _LinePage:
    """A page in Socrata's one-row-per-line layout, its records given a chunk of lines at a time, with what
    `PageMeta` needs gathered as they go."""

    def __init__(self, lines: list[bytes]) -> None:
        self._lines = lines
        self.rows = 0
        self.last_row: dict[str, Any] | None = None
        self.max_updated_at: str | None = None

    @classmethod
    def of(cls, body: bytes) -> _LinePage | None:
        """None unless the first line opens the array with a record and every other line holds one more (the
        last may be the closing bracket alone)."""
        if not body.startswith(b"[{"):
            return None
        lines = body.split(b"\n")
        while lines and not lines[-1].strip():
            lines.pop()
        if len(lines) < 2:
            return None
        middle = lines[1:-1] if lines[-1].strip() == b"]" else lines[1:]
        if not all(line.startswith(b",{") for line in middle):
            return None
        return cls(lines)

    def meta(self) -> PageMeta:
        return PageMeta(self.rows, self.last_row, self.max_updated_at)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        lines = self._lines
        for start in range(0, len(lines), PARSE_CHUNK_LINES):
            chunk = lines[start : start + PARSE_CHUNK_LINES]
            text = b"".join(chunk).strip()
            if start == 0:
                text = text[1:]  # the array's opening bracket
            if start + PARSE_CHUNK_LINES >= len(lines):
                if not text.endswith(b"]"):
                    raise _LayoutError
                text = text[:-1]  # the array's closing bracket
            text = text.strip().removeprefix(b",")
            if not text:
                continue
            try:
                records = orjson.loads(b"[" + text + b"]")
            except orjson.JSONDecodeError:
                raise _LayoutError from None
            expected = sum(1 for line in chunk if line.strip() not in (b"]", b""))
            if len(records) != expected or not all(type(r) is dict for r in records):
                raise _LayoutError
            self.rows += len(records)
            self.last_row = records[-1]
            newest = page_max_updated_at(records)
            if newest is not None and (self.max_updated_at is None or newest > self.max_updated_at):
                self.max_updated_at = newest
            yield from records
            del records


def normalize_body(config: DatasetConfig, body: bytes) -> tuple[PageMeta, CopyBatch]:
    """A page's JSON -> where it ends and its rows as COPY text (rejects and skips included)."""
    with cyclic_gc_paused():  # the parse too: a page is ~300,000 new tracked objects
        page = _LinePage.of(body)
        if page is not None:
            try:
                batch = normalize_page(config, page)
            except _LayoutError:
                pass
            else:
                return page.meta(), encode_batch(batch)
        rows = orjson.loads(body)
        meta = PageMeta(len(rows), rows[-1] if rows else None, page_max_updated_at(rows))
        return meta, encode_batch(normalize_page(config, rows))
