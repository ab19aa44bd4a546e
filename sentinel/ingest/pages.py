"""A fetched page, from the bytes the source sent to the COPY text the writer streams: parsed once, normalized,
encoded. Every runner calls it: the Ray borough normalizers (actors/normalizer.py), the local engine's normalizer
processes (normalizer_process.py) and the serial runner (run.py).

Socrata writes a page one row per line (`[{...}\\n,{...}\\n,{...}]`, shared/NYC_DATA.md), so a page in that layout
is parsed a line at a time, each record normalized as it comes: the page's parsed records, the largest thing a
normalizer held, are never in memory at once, and each row of a table that keeps its source record keeps its
line's text, which its page of records stores as sent. Any other layout is parsed whole; both give the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson

from sentinel.datasets import DatasetConfig
from sentinel.ingest.copy_batch import CopyBatch, encode_batch
from sentinel.normalize import cyclic_gc_paused, normalize_page, normalize_sent_page


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
    """A page in Socrata's one-row-per-line layout: each record with its line's JSON text (what the source
    sent, which its page of records keeps: sentinel/source_pages.py), parsed a line at a time, with what
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
        if lines and lines[-1].strip() == b"]":
            lines.pop()
        elif lines:
            last = lines[-1].rstrip()
            if not last.endswith(b"]"):
                return None
            lines[-1] = last[:-1]  # the array's closing bracket, after the last record
        if len(lines) < 2 or not all(line.startswith(b",{") for line in lines[1:]):
            return None
        return cls(lines)

    def meta(self) -> PageMeta:
        return PageMeta(self.rows, self.last_row, self.max_updated_at)

    def __iter__(self) -> Iterator[tuple[dict[str, Any], bytes]]:
        # A line at a time: a parse of a thousand lines joined cost more (the join, and a chunk's records alive
        # at once), and a line that is not one whole record fails its own parse.
        loads = orjson.loads
        lines = self._lines
        newest = self.max_updated_at
        try:
            for n, line in enumerate(lines):
                lines[n] = b""  # dropped as it is read: its record's row keeps its text, or no one does
                text = line[1:].rstrip()  # the array's opening bracket or the comma before the record
                try:
                    record = loads(text)
                except orjson.JSONDecodeError:
                    raise _LayoutError from None
                if type(record) is not dict:
                    raise _LayoutError
                self.rows += 1
                self.last_row = record
                updated = record.get(":updated_at")
                if updated is not None and (newest is None or updated > newest):
                    newest = updated
                yield record, text
        finally:
            self.max_updated_at = newest


def normalize_body(config: DatasetConfig, body: bytes) -> tuple[PageMeta, CopyBatch]:
    """A page's JSON -> where it ends and its rows as COPY text (rejects and skips included)."""
    # The parse too: a page is ~300,000 new tracked objects. Its records and rows are freed before the collector
    # comes back: alive then, the first collection would scan them all (benchmarks/RESULTS.md, "A page a line at a
    # time, the collector after the page, wider pipes").
    with cyclic_gc_paused():
        page = _LinePage.of(body)
        if page is not None:
            try:
                encoded = encode_batch(normalize_sent_page(config, page))
            except _LayoutError:
                pass
            else:
                return page.meta(), encoded
        rows = orjson.loads(body)
        meta = PageMeta(len(rows), rows[-1] if rows else None, page_max_updated_at(rows))
        encoded = encode_batch(normalize_page(config, rows))
        del rows
        return meta, encoded
