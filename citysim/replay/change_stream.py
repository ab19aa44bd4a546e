"""A changes file (citysim/replay/changes.py) read as it is applied, never parsed whole.

A day of the whole city (citysim/synth/changes.py) carries every DOB complaint (the publisher's daily full
replace) and a day of 311 upserts: parsed whole, that document took more memory than anything else the benchmark's
driver held, and pushed PostgreSQL's pages out of the page cache while the day was ingested (benchmarks/RESULTS.md,
"A day's changes published as they are read").

Rows one per line (the synthetic city's layout, as Socrata writes its own bodies) are parsed line by line; any other
line is tokenized as structure, and a value it holds whole (an empty op, a short `delete` list, a row on a line with
brackets) is parsed from its span. A row written across several lines is an error here: such a file is applied whole
(`apply_changes(store, read_json_document(path))`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from citysim.replay.formats import DataFileError, open_bytes

OPERATIONS = ("replace", "delete", "insert", "update", "upsert")  # the order apply_changes applies them in

# A string (escapes kept), one punctuation character, or a bare scalar (number, true, false, null).
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


@dataclass(frozen=True)
class ChangeBatch:
    """Up to a batch of one operation's items in one dataset: rows, or natural keys for `delete`. Every operation
    in the file yields at least one batch, an empty one if it has no items (an empty replace still publishes)."""

    dataset_id: str
    op: str
    items: list[Any]


_EXPECTED = {"key": "a key", "colon": "':'", "value": "a value", "next": "',' or the closing bracket"}


@dataclass
class _Frame:
    is_object: bool
    expect: str  # what may come next: "key", "colon", "value", or "next" (a comma or the close)
    key: str | None = None  # the member being read, in an object


def read_change_file(path: Path, batch_rows: int) -> Iterator[str | ChangeBatch]:
    """The file's `at` (a str, when it has one) and its operations' items in batches, in the file's order."""
    reader = _Reader(path, batch_rows)
    with open_bytes(path) as fh:
        for reader.lineno, line in enumerate(fh, start=1):
            if reader.in_operation() and (row := _row_line(line)) is not None:
                yield from reader.add(row)
            else:
                yield from reader.structure(line)
    if reader.stack or not reader.seen_top:
        raise DataFileError(path, reader.lineno, "truncated: the changes document is not closed")
    if not reader.seen_datasets:
        raise DataFileError(path, None, 'a changes file is one JSON object with a "datasets" object')


def _row_line(line: bytes) -> dict[str, Any] | None:
    # Only commas are stripped: formats._strip_array_punctuation also drops a bracket, which here is structure
    # (`{...}]` ends the operation as well as holding a row).
    s = line.strip()
    s = s[1:].lstrip() if s.startswith(b",") else s
    s = s[:-1].rstrip() if s.endswith(b",") else s
    if not (s.startswith(b"{") and s.endswith(b"}")):
        return None
    try:
        row = orjson.loads(s)
    except orjson.JSONDecodeError:
        return None  # e.g. `{"a":1},{"b":2}`: two rows on a line, read as structure
    return row if isinstance(row, dict) else None


class _Reader:
    def __init__(self, path: Path, batch_rows: int) -> None:
        self.path, self.batch_rows = path, batch_rows
        self.lineno = 0
        self.stack: list[_Frame] = []
        self.seen_top = self.seen_datasets = False
        self.pending: list[Any] = []
        self.flushed = False  # whether the current operation has yielded a batch

    def fail(self, problem: str) -> DataFileError:
        return DataFileError(self.path, self.lineno, problem)

    def in_operation(self) -> bool:
        s = self.stack
        return len(s) == 4 and not s[3].is_object and s[0].key == "datasets"

    def operation(self) -> tuple[str, str]:
        dataset_id, op = self.stack[1].key, self.stack[2].key
        assert dataset_id is not None and op is not None
        return dataset_id, op

    def add(self, item: Any) -> Iterator[ChangeBatch]:
        self.pending.append(item)
        if len(self.pending) >= self.batch_rows:
            yield self.flush()

    def flush(self) -> ChangeBatch:
        dataset_id, op = self.operation()
        batch, self.pending = ChangeBatch(dataset_id, op, self.pending), []
        self.flushed = True
        return batch

    def structure(self, line: bytes) -> Iterator[str | ChangeBatch]:
        tokens = list(_TOKEN.finditer(line))
        i = 0
        while i < len(tokens):
            tok = tokens[i].group()
            if self.in_operation() and tok != b"]":  # an operation's items: values, commas not checked
                end = self._value_end(tokens, i)
                if tok != b",":
                    yield from self.add(self._parse(line[tokens[i].start() : tokens[end].end()]))
                i = end + 1
                continue
            frame = self.stack[-1] if self.stack else None
            if tok in (b"{", b"["):
                self._open(tok == b"{")
            elif tok in (b"}", b"]"):
                yield from self._close(tok == b"}")
            elif frame is None:
                raise self.fail(f"{tok[:40]!r} outside the changes object")
            elif tok == b":":
                self._expect(frame, "colon", ":")
                frame.expect = "value"
            elif tok == b",":
                self._expect(frame, "next", ",")
                frame.expect, frame.key = ("key", None) if frame.is_object else ("value", frame.key)
            elif frame.is_object and frame.expect == "key":
                key = self._parse(tok)
                if not isinstance(key, str):
                    raise self.fail(f"an object key must be a string, got {tok[:40]!r}")
                frame.key, frame.expect = key, "colon"
            else:
                self._expect(frame, "value", tok)
                frame.expect = "next"
                yield from self._scalar(tok)
            i += 1

    def _expect(self, frame: _Frame, expected: str, tok: bytes | str) -> None:
        if frame.expect != expected:
            raise self.fail(f"{str(tok)[:40]!r} where {_EXPECTED[frame.expect]} belongs")

    def _scalar(self, tok: bytes) -> Iterator[str]:
        value, depth = self._parse(tok), len(self.stack)
        if depth == 1 and self.stack[0].key == "at":
            yield str(value)
        elif self.stack[0].key == "datasets" and depth < 3:
            raise self.fail(f'"datasets" must hold an object of operations, got {tok[:40]!r}')
        elif self.stack[0].key == "datasets" and depth == 3:
            raise ValueError(f"{self.stack[1].key}.{self.stack[2].key}: expected a list")

    def _open(self, is_object: bool) -> None:
        depth = len(self.stack)
        if depth:
            self._expect(self.stack[-1], "value", "{" if is_object else "[")
            self.stack[-1].expect = "next"
        if depth == 0:
            if not is_object or self.seen_top:
                raise self.fail('a changes file is one JSON object with a "datasets" object')
            self.seen_top = True
        elif self.stack[0].key == "datasets" and depth < 3 and not is_object:
            raise self.fail('"datasets" must hold an object of operations')
        elif self.stack[0].key == "datasets" and depth == 1:
            self.seen_datasets = True
        elif self.stack[0].key == "datasets" and depth == 3:
            dataset_id, op = self.stack[1].key, self.stack[2].key
            if op not in OPERATIONS:
                raise ValueError(f"{dataset_id}: unknown operation {op!r}; use {list(OPERATIONS)}")
            if is_object:
                raise ValueError(f"{dataset_id}.{op}: expected a list")
            self.flushed = False
        self.stack.append(_Frame(is_object, expect="key" if is_object else "value"))

    def _close(self, is_object: bool) -> Iterator[ChangeBatch]:
        if not self.stack or self.stack[-1].is_object != is_object:
            raise self.fail("a closing bracket that does not match")
        if self.in_operation():  # its items' commas are not tracked
            if self.pending or not self.flushed:
                yield self.flush()
        elif self.stack[-1].expect not in ("next", "key" if is_object else "value"):
            raise self.fail(f"{'}' if is_object else ']'!r} where {_EXPECTED[self.stack[-1].expect]} belongs")
        self.stack.pop()

    def _value_end(self, tokens: list[re.Match[bytes]], i: int) -> int:
        """The index of the token that ends the value starting at token i (on this line)."""
        if tokens[i].group() not in (b"{", b"["):
            return i
        depth = 0
        for j in range(i, len(tokens)):
            tok = tokens[j].group()
            depth += tok in (b"{", b"[")
            depth -= tok in (b"}", b"]")
            if depth == 0:
                return j
        raise self.fail("a row that spans lines: write one row per line, or apply the file whole")

    def _parse(self, text: bytes) -> Any:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise self.fail(f"invalid JSON value {text[:60]!r}: {exc}") from exc
