"""Pattern classes for Socrata string values, so synthetic and real values can be compared by shape."""

from __future__ import annotations

import re

# Ordered: the first match names the value's class. Classes are coarse on purpose: the test asks "could this
# value have come from the real column", not "is it equal".
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("empty", re.compile(r"^$")),
    ("blank", re.compile(r"^ +$")),
    ("iso_timestamp", re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$")),
    ("ymd8", re.compile(r"^\d{8}$")),
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
