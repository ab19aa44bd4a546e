"""SIGTERM for the command line: it unwinds a command as Ctrl-C does, so what the command started is stopped."""

from __future__ import annotations

import signal


class Terminated(SystemExit):
    """SIGTERM, raised where the command is, so its `with` blocks unwind as they do for Ctrl-C."""


def raise_terminated(signum: int, _frame: object) -> None:
    # Python's default for SIGTERM ends the process on the spot: the embedded PostgreSQL and Redis a command started
    # (sentinel/embedded.py) outlived it. uvicorn, which handles SIGTERM while it serves, raises it again on its way
    # out, so `serve --engine uvicorn` died that way too. A second SIGTERM does not cut the clean-up short.
    signal.signal(signal.SIGTERM, lambda *_: None)
    raise Terminated(128 + signum)
