"""Where a record is: BBL, BIN and borough from whatever keys its dataset has, with warnings for bad ones."""

from __future__ import annotations

from typing import Any

from sentinel.bbl import bbl_from_parts, bin_problem, borough_code, normalize_bbl, normalize_bin
from sentinel.normalize.outcome import RejectRecord


def resolve_location(
    warnings: list[str],
    *,
    bbl: Any = None,
    borough: Any = None,
    block: Any = None,
    lot: Any = None,
    bin_: Any = None,
) -> tuple[str | None, str | None, int | None]:
    """(bbl, bin, borough). The dataset's own BBL wins; else derive it from borough + block + lot.

    The borough falls back to the BIN's or BBL's first digit: DOB data has boro values like "B" (Bronx or
    Brooklyn?) and 311 has "Unspecified", but a valid BIN/BBL always starts with the borough digit.
    """
    b = normalize_bin(bin_)
    if b is None and bin_ is not None:
        problem = bin_problem(bin_)
        if problem:
            warnings.append(f"bin: {problem}")
    code = borough_code(borough) if borough is not None else None
    lot_bbl = normalize_bbl(bbl) if bbl is not None else None
    if lot_bbl is None and bbl is not None and str(bbl).strip().strip("0") not in ("", "."):
        warnings.append(f"bbl: malformed {str(bbl).strip()!r}")
    if code is None:
        if lot_bbl is not None:
            code = int(lot_bbl[0])
        elif b is not None:
            code = int(b[0])
        if borough is not None and code is not None and str(borough).strip():
            warnings.append(f"borough: unrecognized {str(borough).strip()!r}, taken from bbl/bin")
    if lot_bbl is None and code is not None and block is not None and lot is not None:
        lot_bbl = bbl_from_parts(code, block, lot)
        if lot_bbl is None:
            warnings.append(f"bbl: cannot derive from block {block!r} lot {lot!r}")
    elif lot_bbl is not None and code is not None and int(lot_bbl[0]) != code:
        warnings.append(f"borough: {code} disagrees with bbl {lot_bbl}")
    return lot_bbl, b, code


def require_location(bbl: str | None, bin_: str | None) -> None:
    """Violations and complaints without a BBL or BIN cannot be attached to any building."""
    if bbl is None and bin_ is None:
        raise RejectRecord("no usable location: no valid bbl, block/lot or bin")
