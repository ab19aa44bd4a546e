"""Streaming writer for the one-row-per-line API JSON layout shared with the replay server.

Layout (a contract with sentinel/replay): line 1 is `[`, then one row object per line, every row line but the
last ends with `,`, the last line is `]`. The file is valid JSON and can be read line by line.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import orjson


class JsonArrayWriter:
    """Writes rows as they come; memory does not grow with the number of rows."""

    def __init__(self, path: Path, buffer_rows: int = 4096) -> None:
        self._fh = path.open("wb")
        self._fh.write(b"[\n")
        # The comma of a row is only known once the next row arrives, so the last row stays pending.
        self._pending: bytes | None = None
        self._buffer: list[bytes] = []
        self._buffer_rows = buffer_rows
        self.rows = 0

    def write(self, row: dict[str, Any]) -> None:
        self.write_encoded(orjson.dumps(row))

    def write_encoded(self, row: bytes) -> None:
        """A row already encoded as one JSON object (no newline inside)."""
        if self._pending is not None:
            self._buffer.append(self._pending)
            if len(self._buffer) >= self._buffer_rows:
                self._flush()
        self._pending = row
        self.rows += 1

    def write_many(self, rows: list[bytes]) -> None:
        """Rows already encoded, written with one join: the big datasets hand over a batch at a time."""
        if not rows:
            return
        if self._pending is not None:
            self._buffer.append(self._pending)
        self._buffer.extend(rows[:-1])
        self._pending = rows[-1]
        self.rows += len(rows)
        if len(self._buffer) >= self._buffer_rows:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self._fh.write(b",\n".join(self._buffer))  # no `+ b",\n"`: that would copy the joined block again
            self._fh.write(b",\n")
            self._buffer.clear()

    def close(self) -> None:
        if self._fh.closed:
            return
        self._flush()
        if self._pending is not None:
            self._fh.write(self._pending + b"\n")
        self._fh.write(b"]\n")
        self._fh.close()

    def __enter__(self) -> JsonArrayWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
