"""A normalized batch in PostgreSQL's COPY text format: what crosses from a normalizer to a writer.

Rows are encoded where they are normalized, so the writer only streams bytes into COPY. Handing the batch over
as row objects instead meant pickling and unpickling ~25 Python values and a raw-record dict per row between
the two processes, which cost more than the normalization itself (benchmarks/RESULTS.md, "Ingestion").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

import orjson

from sentinel import source_pages
from sentinel.ingest import copy_lines
from sentinel.normalize import NormalizedBatch, Reject
from sentinel.records import Row, copy_values
from sentinel.source_pages import SourcePage

NULL = "\\N"
# COPY text: backslash, newline, carriage return and tab are escaped; PostgreSQL text cannot hold NUL at all.
_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\x00": None})
_NEEDS_ESCAPE = re.compile("[\\\\\n\r\t\x00]")


def encode_value(value: Any) -> str:
    """One column value as COPY text (None is NULL; dates ISO 8601; booleans t/f)."""
    if value is None:
        return NULL
    kind = type(value)
    if kind is str:
        return value.translate(_ESCAPES) if _NEEDS_ESCAPE.search(value) else value
    if kind is bool:
        return "t" if value else "f"
    if kind is date or kind is datetime:
        return value.isoformat()
    return str(value)  # int, Decimal, float


def encode_line(values: tuple[Any, ...]) -> str:
    """One row as a COPY text line (without its newline): every value escaped as it needs."""
    return "\t".join([encode_value(v) for v in values])


def encode_rows(rows: Sequence[Row]) -> bytes:
    """The rows as COPY text lines in the order of their `columns`, one per row."""
    if not rows:
        return b""
    fast_line = line_encoder(type(rows[0]))
    # One growing buffer, not a list of lines joined at the end: a page's text is ~30 MB, and the list, the
    # joined str and its encoded copy would hold it three times over in a normalizer at its peak.
    out = bytearray()
    for row in rows:
        line = fast_line(row)
        out += encode_line(copy_values(row)).encode() if line is None else line
        out += b"\n"
    return bytes(out)


class _DateTextCache(dict[date | None, str]):
    """A date's COPY text (None's is NULL). Formatting a date costs a method call; a date column holds a few
    thousand distinct days across millions of rows, so looking the text up is cheaper than making it again."""

    LIMIT = 100_000

    def __missing__(self, day: date | None) -> str:
        text = NULL if day is None else day.isoformat()
        if len(self) >= self.LIMIT:
            self.clear()
        self[day] = text
        return text


_DATE_TEXT = _DateTextCache()
_LINE_FUNCTIONS = copy_lines.line_functions(NULL, _DATE_TEXT)


@cache
def line_encoder(row_type: type[Row]) -> Callable[[Row], bytes | None]:
    """`row -> its COPY text line`, or None for a row with a value to escape.

    The line up to `raw` comes from the row class's generated function (sentinel/ingest/copy_lines.py, one
    f-string formatting every value in C). Almost no value needs escaping, so the line is checked once instead of
    each value: its only backslashes must be the NULL markers, its only tabs the separators. `raw` comes last and
    orjson's JSON is appended as bytes: JSON text has no raw tab, newline or NUL, only backslashes to double.
    """
    line_and_nulls = _LINE_FUNCTIONS[row_type.table]
    last = row_type.columns[-1]
    tabs = len(row_type.columns) - 1  # between the columns, and before `raw`

    def encode(row: Row) -> bytes | None:
        line, null_count = line_and_nulls(row)
        if line.count("\\") != null_count or line.count("\t") != tabs or "\n" in line or "\r" in line or "\x00" in line:
            return None
        if last != "raw":
            return line.encode()
        raw = orjson.dumps(row.raw)  # type: ignore[union-attr]
        return line.encode() + (raw.replace(b"\\", b"\\\\") if b"\\" in raw else raw)

    return encode


@dataclass(frozen=True, slots=True)
class CopyData:
    rows: int
    data: bytes  # COPY text of `rows` rows in the order of the table's row type `columns`
    page: SourcePage | None = None  # the rows' source records, for a table that keeps them apart


def encode_table(dataset: str, rows: Sequence[Row]) -> CopyData:
    """One table's rows of a page: their COPY text and, where the table keeps them apart, their records' page."""
    page = source_pages.place_records(dataset, rows) if rows[0].table in source_pages.TABLES else None  # type: ignore[arg-type]
    return CopyData(len(rows), encode_rows(rows), page)


@dataclass(slots=True)
class CopyBatch:
    dataset: str
    tables: dict[str, CopyData] = field(default_factory=dict)  # target table -> its rows, unique by key
    rejects: list[Reject] = field(default_factory=list)
    skipped: int = 0
    duplicates: int = 0  # records whose key repeated within the page: the later state was kept
    quality: dict[tuple[str, str], int] = field(default_factory=dict)  # (field, reason) -> rows with it
    reject_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def row_count(self) -> int:
        return sum(t.rows for t in self.tables.values())


def encode_batch(batch: NormalizedBatch) -> CopyBatch:
    tables = {table: encode_table(batch.dataset, rows) for table, rows in batch.rows.items() if rows}
    return CopyBatch(
        batch.dataset,
        tables,
        batch.rejects,
        batch.skipped,
        batch.duplicates,
        batch.quality,
        batch.reject_reasons,
    )
