"""Signals for the command line: SIGTERM unwinds a command as Ctrl-C does, and Ctrl-C stops it wherever it is, so
what the command started is stopped."""

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


def stop_on_signals() -> None:
    """SIGTERM raises `Terminated` and SIGINT `KeyboardInterrupt` in the command, whatever it inherited; the
    commands that serve set their own handlers, which stop the same way."""
    signal.signal(signal.SIGTERM, raise_terminated)
    # A shell starts what it runs in the background (`vsentinel demo &` in a script, a test run started with `&`)
    # with SIGINT ignored, and Python then leaves it ignored: a Ctrl-C, or `vsentinel stop`'s SIGINT, that came
    # before `serve` set its own handler was lost, and the demo went on to serve until it was killed.
    signal.signal(signal.SIGINT, signal.default_int_handler)
