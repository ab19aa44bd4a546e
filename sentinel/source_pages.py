"""Source records kept a page at a time, apart from their rows (migration 0033).

A violation or complaint row keeps the record it was normalized from, so a fixed normalizer can be re-run over
what was stored and a row audited against what the city sent. The records of the rows a page wrote are stored
together: their JSON one per line (as the source sent it when its page had a record a line, as Socrata writes
them; else as orjson writes the record), in the order of the rows' COPY lines, compressed as one zstd frame in
`source_pages`; each row holds the page's id (`source_page`) and its record's line (`source_line`). Neighbouring
records share most of their text, so a page compresses better than records packed one by one
(sentinel/raw_records.py, what rows written before keep), at a fraction of the CPU (benchmarks/RESULTS.md, "Source
records a page at a time").

A page's id comes from its compressed body: the same records in the same order are one page, stored once
(a page fetched and written again, as a rerun or a retried page does, adds nothing). A page is stored only when
its table took at least one of its rows (sentinel/ingest/writer.py); `prune_source_pages` removes pages that no
row points at any more (every row of theirs changed since).
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import psycopg
import zstandard
from psycopg import sql

from sentinel.records import RECORD_KEEPING_ROWS

# zstd's fastest level: a page is written once and read back rarely; a higher level gains a few percent of bytes.
_LEVEL = 1
_SLICE = 1_000  # records compressed at a time
# Tables whose rows keep their source record in a page.
TABLES = tuple(row_type.table for row_type in RECORD_KEEPING_ROWS)


class RecordRow(Protocol):
    raw: dict[str, Any]
    source_text: bytes | None
    source_page: str | None
    source_line: int | None


@dataclass(frozen=True, slots=True)
class SourcePage:
    id: str  # uuid text
    dataset: str
    records: int
    body: bytes  # zstd frame of the records' JSON, one per line


_contexts = threading.local()  # a zstd context serves one call at a time: each thread has its own


def _compressor() -> zstandard.ZstdCompressor:
    compressor = getattr(_contexts, "compressor", None)
    if compressor is None:
        compressor = _contexts.compressor = zstandard.ZstdCompressor(level=_LEVEL, write_checksum=True)
    return compressor


def place_records(dataset: str, rows: Sequence[RecordRow]) -> SourcePage:
    """The page of `rows`' records; each row is given its place in it (`source_page`, `source_line`)."""
    # Compressed a slice of records at a time into one frame: the page's JSON whole would be a page-sized copy
    # more in the normalizer at its peak.
    stream = _compressor().compressobj()
    parts = []
    for start in range(0, len(rows), _SLICE):
        text = b"\n".join(
            [
                orjson.dumps(row.raw) if row.source_text is None else row.source_text
                for row in rows[start : start + _SLICE]
            ]
        )
        parts.append(stream.compress(b"\n" + text if start else text))
    parts.append(stream.flush())
    body = b"".join(parts)
    page_id = str(uuid.UUID(bytes=hashlib.sha256(body).digest()[:16]))
    for line, row in enumerate(rows):
        row.source_page = page_id
        row.source_line = line
    return SourcePage(page_id, dataset, len(rows), body)


def page_records(body: bytes) -> list[bytes]:
    """A stored page's records as JSON, by line."""
    # A frame written in slices does not say its size up front: read as a stream.
    return zstandard.ZstdDecompressor().decompressobj().decompress(bytes(body)).split(b"\n")


def store_page(conn: psycopg.Connection, page: SourcePage) -> None:
    conn.execute(
        "INSERT INTO source_pages (id, dataset, records, body) VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
        (page.id, page.dataset, page.records, page.body),
    )


class PageReader:
    """A row's record from its page, each page read and decompressed once (the last few kept)."""

    KEEP = 8

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        self._pages: dict[str, list[bytes]] = {}

    def record(self, page_id: Any, line: int) -> dict[str, Any]:
        key = str(page_id)
        lines = self._pages.get(key)
        if lines is None:
            row = self._conn.execute("SELECT body FROM source_pages WHERE id = %s", (key,)).fetchone()
            if row is None:
                raise LookupError(f"source page {key} is not stored")
            if len(self._pages) >= self.KEEP:
                self._pages.pop(next(iter(self._pages)))
            lines = self._pages[key] = page_records(row[0])
        return orjson.loads(lines[line])


def prune_source_pages(conn: psycopg.Connection, tables: Iterable[str] = TABLES) -> int:
    """Deletes the pages no row points at (their rows all changed since, each now in a later page); returns
    how many. Reads every row's `source_page` once (an anti-join per table), so it belongs to maintenance, not
    to a run's path."""
    unreferenced = sql.SQL(" AND ").join(
        sql.SQL("NOT EXISTS (SELECT 1 FROM {} t WHERE t.source_page = p.id)").format(sql.Identifier(table))
        for table in tables
    )
    return conn.execute(sql.SQL("DELETE FROM source_pages p WHERE {}").format(unreferenced)).rowcount
