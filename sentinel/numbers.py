"""Integers and floats from Socrata strings ("2810", "5480.00000000", "1,700", "-73.904550")."""

from __future__ import annotations

from typing import Any


def to_int(value: Any, field: str, warnings: list[str]) -> int | None:
    if value is None:
        return None
    s = str(value).strip().replace(",", "")
    if not s:
        return None
    if s.isdigit():
        return int(s)
    try:
        f = float(s)
    except ValueError:
        warnings.append(f"{field}: not a number {value!r}")
        return None
    # Number-typed Socrata columns may come back as "5480.00000000"; a real fraction is a data error.
    if not f.is_integer():
        warnings.append(f"{field}: not an integer {value!r}")
        return None
    return int(f)


def to_float(value: Any, field: str, warnings: list[str]) -> float | None:
    if value is None:
        return None
    s = str(value).strip().replace(",", "")
    if not s:
        return None
    try:
        f = float(s)
    except ValueError:
        warnings.append(f"{field}: not a number {value!r}")
        return None
    if f != f or f in (float("inf"), float("-inf")):
        warnings.append(f"{field}: not a finite number {value!r}")
        return None
    return f
