"""Streaming writer for the one-row-per-line API JSON layout shared with the replay server.

Layout (a contract with citysim/replay): line 1 is `[`, then one row object per line, every row line but the
last ends with `,`, the last line is `]`. The file is valid JSON and can be read line by line. A path ending in
`.zst` is written zstd-compressed (the replay server's readers decompress it as they read).
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import orjson
import zstandard


class JsonArrayWriter:
    """Writes rows as they come; memory does not grow with the number of rows.

    Nothing is held between calls: a row is written by the call that hands it over. (This writer used to keep up
    to 4,096 rows per file; for the small datasets that was dozens of batches of orjson output, each holding far
    more resident memory than its rows' text, and the process's peak grew with the city (benchmarks/RESULTS.md,
    "Synthetic city").)
    """

    def __init__(self, path: Path) -> None:
        self._fh = open_for_writing(path)
        self._fh.write(b"[\n")
        self.rows = 0

    def write(self, row: dict[str, Any]) -> None:
        self.write_many([orjson.dumps(row)])

    def write_many(self, rows: list[bytes]) -> None:
        """Rows already encoded as one JSON object each (no newline inside), written with one join."""
        if not rows:
            return
        if self.rows:
            self._fh.write(b",\n")  # the comma of the previous call's last row
        self._fh.write(b",\n".join(rows))
        self.rows += len(rows)

    def close(self) -> None:
        if self._fh.closed:
            return
        self._fh.write(b"\n]\n" if self.rows else b"]\n")
        self._fh.close()

    def __enter__(self) -> JsonArrayWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# zstd's fastest level: the synthetic city's repetitive JSON shrinks about as much as at higher levels, at a cost per
# byte that would show in the synth's wall time (benchmarks/RESULTS.md, "The whole city at full size").
ZSTD_LEVEL = 1


def open_for_writing(path: Path) -> BinaryIO:
    """A file to write bytes to, zstd-compressed when its name ends in `.zst` (closing it ends the frame)."""
    fh = path.open("wb")
    if path.name.lower().endswith(".zst"):
        return zstandard.ZstdCompressor(level=ZSTD_LEVEL).stream_writer(fh, closefd=True)  # type: ignore[return-value]
    return fh


def json_file_name(stem: str, compress: bool) -> str:
    """`<stem>.json`, or `<stem>.json.zst` written compressed."""
    return f"{stem}.json.zst" if compress else f"{stem}.json"
