"""Cleaning of Socrata text values: padding, internal runs of spaces, and the many spellings of "no value"."""

from __future__ import annotations

from typing import Any

# Socrata omits real nulls, but the publishers' own exports spell "nothing" in many ways (311 most of all).
NULL_SPELLINGS = frozenset({"", "N/A", "NA", "<NA>", "NULL"})
# "Unspecified" is a real 311 value meaning "unknown"; only fields where it means that treat it as null.
UNSPECIFIED_NULLS = NULL_SPELLINGS | {"UNSPECIFIED"}
_LONGEST_NULL = max(len(s) for s in UNSPECIFIED_NULLS)


def clean(value: Any, nulls: frozenset[str] = NULL_SPELLINGS) -> str | None:
    """Strip padding; return None for a missing value or a null spelling (case-insensitive)."""
    if value is None:
        return None
    if type(value) is not str:
        value = str(value)
    s = value.strip()
    # DOB pads to fixed widths ("101         ", "   "), so strip before deciding it is empty.
    if len(s) <= _LONGEST_NULL and s.upper() in nulls:
        return None
    return s


def clean_spaces(value: Any, nulls: frozenset[str] = NULL_SPELLINGS) -> str | None:
    """Like clean(), and collapse internal runs of whitespace ("WEST   23 STREET" -> "WEST 23 STREET")."""
    s = clean(value, nulls)
    if s is None or "  " not in s:
        return s
    return " ".join(s.split())


def first_segment(value: Any) -> str | None:
    """The text before the first run of 2+ spaces: DOB packs sub-fields into one padded column
    ("E-ELEVATOR" + 50 spaces + "ELEVATORREQUIRED")."""
    s = clean(value)
    if s is None:
        return None
    i = s.find("  ")
    return s if i < 0 else s[:i]
