"""The CLI's two consoles and its machine output.

Rich sizes a console that is not a terminal to 80 columns and cuts table cells to fit (`┃ fetc… ┃`): piped or
captured output gets a wide console instead (`COLUMNS` still wins), and tables fold what does not fit.
With `--json` a command prints one JSON document on stdout and nothing else there: the human output is muted.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

# Wide enough for the ingest summary's twelve columns; a terminal keeps its own width.
PIPE_WIDTH = 200


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(stderr=stderr, width=width)


console = _console(stderr=False)
err_console = _console(stderr=True)


def table(*columns: str, title: str | None = None, numeric: tuple[str, ...] = ()) -> Table:
    """A table whose cells wrap (fold) rather than end in an ellipsis when the console is too narrow."""
    result = Table(title=title, title_justify="left")
    for column in columns:
        result.add_column(column, justify="right" if column in numeric else "left", overflow="fold")
    return result


def machine_output(enabled: bool) -> None:
    """`--json`: mute the human output on stdout (progress, tables, notes) so that only the document remains."""
    console.quiet = enabled


def emit_json(document: Any) -> None:
    """One JSON document on stdout (dataclasses, dates and paths included)."""
    sys.stdout.buffer.write(orjson.dumps(document, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()
