"""Structured JSON logs carrying the current request or run id.

`correlation_id` is a context variable: the API sets it per request, the ingester per run, and every log line
written inside that context carries it without being passed around.

Servers log to stderr (`configure`), where their supervisor collects it. The CLI (`configure_cli`) keeps its
console for tables and progress: the log goes to `VS_DATA_DIR/logs/vsentinel.log`, and only warnings and errors
also reach stderr, one plain line each; `--log-json` (VS_LOG_TO=stderr) sends the whole log to stderr instead.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import logging.handlers
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from pythonjsonlogger.json import JsonFormatter

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)


class _CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        return True


# What every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "correlation_id", "taskName"}
LOG_FILE_MAX_BYTES = 20 * 1024 * 1024
LOG_FILE_BACKUPS = 5


def _formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
            rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
        )
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")


class ConsoleLineFormatter(logging.Formatter):
    """`warning: stale local stack record replaced (dead=['owner pid 12'], stopped=[])`: one line, for a person."""

    def format(self, record: logging.LogRecord) -> str:
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        text = record.getMessage()
        if extras:
            text += " (" + ", ".join(f"{k}={v}" for k, v in extras.items()) + ")"
        if record.exc_info:
            text += f": {record.exc_info[1]}"
        return f"{record.levelname.lower()}: {' '.join(text.split())}"


def configure(level: str = "INFO", fmt: str = "json", stream: object = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(_formatter(fmt))
    _install([handler], level)


def configure_cli(level: str, fmt: str, log_file: Path | None, stream: object = None) -> Path | None:
    """The CLI's logging: to `log_file` (rotated) with warnings and errors also on stderr as one plain line each,
    or, with no file, everything to stderr in `fmt`. Returns the file, or None when it could not be opened (the
    log then goes to stderr: a read-only data directory must not stop a command)."""
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            to_file = logging.handlers.RotatingFileHandler(
                log_file, maxBytes=LOG_FILE_MAX_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
            )
        except OSError:
            log_file = None
    if log_file is None:
        configure(level, fmt, stream)
        return None
    to_file.setFormatter(_formatter(fmt))
    to_console = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    to_console.setLevel(logging.WARNING)
    to_console.setFormatter(ConsoleLineFormatter())
    _install([to_file, to_console], level)
    return log_file


def _install(handlers: list[logging.Handler], level: str) -> None:
    for handler in handlers:
        handler.addFilter(_CorrelationFilter())
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = handlers
    root.setLevel(level)


@contextlib.contextmanager
def correlated(value: str | None = None) -> Iterator[str]:
    """Runs the block with a correlation id (the given one, or a new uuid)."""
    token = correlation_id.set(value or uuid.uuid4().hex)
    try:
        yield correlation_id.get() or ""
    finally:
        correlation_id.reset(token)
