"""Dates in every format the NYC sources use, with garbage turned into None plus a recorded reason.

Formats seen: floating timestamps "2013-10-08T00:00:00.000", fixed "2025-03-03T14:15:14.576Z", plain
"2018-11-07", DOB/ECB text "20180507", DOB complaints "MM/DD/YYYY", portal CSV "04/26/2013 12:00:00 AM",
eabe-havv `dobrundate` "YYYYMMDDHHMMSS" (2026). Garbage seen: "000000", "Y9990120", 1900-01-01 placeholders,
years like 2105 or 2423.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

MIN_YEAR = 1900
MAX_YEAR = 2100
# 311 uses 1900-01-01 as a "no date" placeholder for closed_date; no real record is that old.
PLACEHOLDER_DATES = frozenset({date(1900, 1, 1)})

# A date column holds few distinct values (a few thousand days) across millions of rows, so a dict in front
# of the parser makes it nearly free. Values are a date or the reason string for a rejected value.
_CACHE: dict[str, date | str] = {}
_CACHE_LIMIT = 200_000
_TS_CACHE: dict[Any, datetime | str] = {}


def parse_date(value: str) -> date | str:
    """A date, or a reason (str) why `value` is not a usable date. Cached."""
    hit = _CACHE.get(value)
    if hit is not None:
        return hit
    result = _parse_date(value.strip())
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[value] = result
    return result


def to_date(value: Any, field: str, warnings: list[str]) -> date | None:
    """Parse a date field; on garbage append "<field>: <reason>" to warnings and return None."""
    if value is None:
        return None
    if type(value) is not str:
        value = str(value)
    result = _CACHE.get(value)
    if result is None:
        result = parse_date(value)
    if type(result) is str:
        if result:  # "" = blank value: simply missing, nothing to report
            warnings.append(f"{field}: {result}")
        return None
    return result  # type: ignore[return-value]


def _parse_date(s: str) -> date | str:
    if not s:
        return ""
    n = len(s)
    try:
        if n >= 10 and s[4] == "-" and s[7] == "-" and (n == 10 or s[10] in "T "):
            y, m, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
        elif s.isdigit() and n in (8, 14):
            # YYYYMMDD (DOB, ECB) and YYYYMMDDHHMMSS (dobrundate since ~2024): the time part is dropped.
            y, m, d = int(s[0:4]), int(s[4:6]), int(s[6:8])
        elif "/" in s:
            parts = s.split(" ", 1)[0].split("/")
            if len(parts) != 3 or len(parts[2]) != 4:
                return f"unrecognized date format {s!r}"
            m, d, y = int(parts[0]), int(parts[1]), int(parts[2])
        else:
            return f"unrecognized date format {s!r}"
    except ValueError:
        return f"unrecognized date format {s!r}"
    if not MIN_YEAR <= y <= MAX_YEAR:
        return f"year out of range {s!r}"
    try:
        result = date(y, m, d)
    except ValueError:
        return f"impossible date {s!r}"
    if result in PLACEHOLDER_DATES:
        return f"placeholder date {s!r}"
    return result


def to_timestamp(value: Any, field: str, warnings: list[str]) -> datetime | None:
    """A Socrata fixed_timestamp ("2025-03-03T14:15:14.576Z") or SODA 2.0 epoch seconds, as aware UTC."""
    if value is None:
        return None
    hit = _TS_CACHE.get(value)
    if hit is None:
        hit = _parse_timestamp(value)
        if len(_TS_CACHE) >= _CACHE_LIMIT:
            _TS_CACHE.clear()
        _TS_CACHE[value] = hit
    if type(hit) is str:
        warnings.append(f"{field}: {hit}")
        return None
    return hit  # type: ignore[return-value]


def _parse_timestamp(value: Any) -> datetime | str:
    # SODA 2.0 with $$exclude_system_fields=false returns epoch integers instead of ISO strings.
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            return datetime.fromtimestamp(int(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return f"bad epoch timestamp {value!r}"
    try:
        ts = datetime.fromisoformat(str(value).strip())
    except ValueError:
        return f"unrecognized timestamp {value!r}"
    # Floating timestamps carry no zone; Socrata system fields are UTC.
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
