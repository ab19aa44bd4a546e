"""A normalized batch in PostgreSQL's COPY text format: what crosses from a normalizer to a writer.

Rows are encoded where they are normalized, so the writer only streams bytes into COPY. Handing the batch over
as row objects instead meant pickling and unpickling ~25 Python values and a raw-record dict per row between
the two processes, which measured at ~50 us per row: five times the normalization itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sentinel.normalize import NormalizedBatch, Reject
from sentinel.records import Row

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
    """One row as a COPY text line (without its newline)."""
    line = "\t".join([v if type(v) is str else encode_value(v) for v in values])
    # Almost no value needs escaping: join first, then check the whole line once in C instead of every value
    # with a regex (a quarter less CPU per row). The only backslashes allowed are the NULL markers'.
    if (
        line.count("\\") != values.count(None)
        or line.count("\t") != len(values) - 1
        or "\n" in line
        or "\r" in line
        or "\x00" in line
    ):
        line = "\t".join([encode_value(v) for v in values])
    return line


def encode_rows(rows: Iterable[Row]) -> bytes:
    """The rows' `copy_values()` as COPY text lines, one per row."""
    # One growing buffer, not a list of lines joined at the end: a page's text is ~30 MB, and the list, the
    # joined str and its encoded copy would hold it three times over in a normalizer at its peak.
    out = bytearray()
    for row in rows:
        out += encode_line(row.copy_values()).encode()
        out += b"\n"
    return bytes(out)


@dataclass(frozen=True, slots=True)
class CopyData:
    rows: int
    data: bytes  # COPY text of `rows` rows in the order of the table's row type `columns`


@dataclass(slots=True)
class CopyBatch:
    dataset: str
    tables: dict[str, CopyData] = field(default_factory=dict)  # target table -> its rows, unique by key
    rejects: list[Reject] = field(default_factory=list)
    skipped: int = 0

    @property
    def row_count(self) -> int:
        return sum(t.rows for t in self.tables.values())


def encode_batch(batch: NormalizedBatch) -> CopyBatch:
    tables = {table: CopyData(len(rows), encode_rows(rows)) for table, rows in batch.rows.items() if rows}
    return CopyBatch(batch.dataset, tables, batch.rejects, batch.skipped)
