"""Shared request pieces: BBL/BIN patterns, keyset cursors, CSV streaming."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import orjson
from fastapi import Path
from starlette.responses import StreamingResponse

from deployments.api.errors import ApiError

BBL_PATTERN = r"^[1-5][0-9]{9}$"
BIN_PATTERN = r"^[1-5][0-9]{6}$"
BblPath = Annotated[str, Path(pattern=BBL_PATTERN, description="10-digit borough-block-lot")]


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(
        orjson.dumps([v.isoformat() if isinstance(v, date) else v for v in values])
    ).decode()


def decode_cursor(cursor: str, kinds: Sequence[Callable[[Any], Any]]) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("wrong shape")
        return [kind(v) for kind, v in zip(kinds, values, strict=True)]
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise ApiError(400, "invalid_cursor", "the cursor is not one this API issued") from exc


# OWASP's CSV injection guidance: a spreadsheet reads a cell that starts with one of these as a formula (or, for
# TAB/CR/LF, as a cell it trims into one). Such a text cell gets a leading apostrophe, which spreadsheets show as
# text and do not display; leading spaces do not hide a formula from every spreadsheet, so they are looked past.
# Every cell is also quoted and embedded quotes doubled (csv.QUOTE_ALL), so a separator inside a value (`;=1+2`
# for a semicolon locale) cannot start a new cell. Numbers, dates and JSON are written by us and left as they are:
# a negative penalty stays a number.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def escape_formula(text: str) -> str:
    if text.startswith(FORMULA_TRIGGERS) or text.lstrip(" ").startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return escape_formula(value)
    if isinstance(value, Decimal | date):
        return str(value)
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    return value


class CSVResponse(StreamingResponse):
    media_type = "text/csv"


class CsvEncoder:
    """Rows in, escaped CSV text out, in chunks of about `chunk_chars`."""

    def __init__(self, chunk_chars: int = 64 * 1024) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, quoting=csv.QUOTE_ALL)
        self._chunk = chunk_chars

    def write(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self._writer.writerow([csv_cell(v) for v in row])

    @property
    def full(self) -> bool:
        return self._buffer.tell() >= self._chunk

    def take(self) -> str:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text


async def csv_chunks(header: Sequence[str], batches: AsyncIterator[Sequence[Sequence[Any]]]) -> AsyncIterator[str]:
    encoder = CsvEncoder()
    encoder.write([header])
    async for batch in batches:
        encoder.write(batch)
        if encoder.full:
            yield encoder.take()
    yield encoder.take()
