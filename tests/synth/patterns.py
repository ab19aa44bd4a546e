"""Pattern classes for Socrata string values, so synthetic and real values can be compared by shape."""

from __future__ import annotations

import re

# Ordered: the first match names the value's class. Classes are coarse on purpose: the test asks "could this
# value have come from the real column", not "is it equal".
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("empty", re.compile(r"^$")),
    ("blank", re.compile(r"^ +$")),
    ("iso_timestamp", re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$")),
    ("ymd8", re.compile(r"^(18|19|20|21)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")),
    ("mdy", re.compile(r"^\d{2}/\d{2}/\d{4}$")),
    ("decimal", re.compile(r"^-?\d*\.\d+$")),
    ("digits", re.compile(r"^\d+$")),
    ("padded_digits", re.compile(r"^\d+ +$")),
    ("hyphen_digits", re.compile(r"^\d+-\d+[A-Z]?$")),
    ("code", re.compile(r"^[A-Z0-9]{1,3}$")),
    ("padded_text", re.compile(r"^\S.*\S? {2,}$")),
    ("text", re.compile(r"^\S(.*\S)?$")),
]


def pattern_of(value: str) -> str:
    for name, regex in _PATTERNS:
        if regex.match(value):
            return name
    return "other"


def pattern_of_any(value: object) -> str:
    """Pattern of an API JSON value: strings by shape, checkboxes and points by type."""
    if isinstance(value, bool):
        return "checkbox"
    if isinstance(value, dict):
        return "point"
    if isinstance(value, str):
        return pattern_of(value)
    return type(value).__name__
