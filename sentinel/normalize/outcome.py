"""The two ways a raw record does not become a row: rejected (kept with a reason) or skipped (not ours)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sentinel.text import clean


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


def required_key(raw: Mapping[str, Any], field: str) -> str:
    """The record's natural key, cleaned; a record without one is rejected."""
    key = clean(raw.get(field))
    if key is None:
        raise RejectRecord(f"missing {field}")
    return key
