"""The two ways a raw record does not become a row: rejected (kept with a reason) or skipped (not ours)."""

from __future__ import annotations


class RejectRecord(Exception):  # noqa: N818 - an outcome, not an error of the program
    """The record cannot be normalized (no natural key, no usable location...): it goes to `rejects`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SkipRecord(Exception):  # noqa: N818 - an outcome, not an error of the program
    """The record is valid but out of scope (a 311 request of another agency): counted, not stored."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
