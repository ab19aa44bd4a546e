"""Borough codes, BBLs and BINs as every NYC dataset spells them.

BBL = borough digit + 5-digit block + 4-digit lot ("2028100045"); BIN = 7 digits whose first is the borough.
"""

from __future__ import annotations

from typing import Any

BOROUGH_NAMES = {1: "MANHATTAN", 2: "BRONX", 3: "BROOKLYN", 4: "QUEENS", 5: "STATEN ISLAND"}
BOROUGH_SHORT = {1: "MN", 2: "BX", 3: "BK", 4: "QN", 5: "SI"}

# Every spelling seen: digits (HPD boroid, DOB boro), full names (HPD, 311, title case in DOB NOW),
# PLUTO/vacate-order abbreviations, OATH "STATEN IS", DOB's one-letter "Q"/"M". "B" is deliberately absent:
# it is seen in DOB data but could be the Bronx or Brooklyn; callers fall back to the BIN's first digit.
_BOROUGH_CODES: dict[str, int] = {
    **{str(code): code for code in BOROUGH_NAMES},
    **{f"0{code}": code for code in BOROUGH_NAMES},
    **{name: code for code, name in BOROUGH_NAMES.items()},
    **{short: code for code, short in BOROUGH_SHORT.items()},
    "NEW YORK": 1,
    "M": 1,
    "X": 2,
    "K": 3,
    "Q": 4,
    "R": 5,
    "S": 5,
    "STATEN IS": 5,
    "STATEN IS.": 5,
    "RICHMOND": 5,
}


def borough_code(value: Any) -> int | None:
    """1..5 from any borough spelling; None for "Unspecified", "NOT NYC", blanks and unknowns."""
    if value is None:
        return None
    s = value if type(value) is str else str(value)
    code = _BOROUGH_CODES.get(s)
    if code is None:
        code = _BOROUGH_CODES.get(" ".join(s.split()).upper().removesuffix(".0"))
    return code


def _integral_digits(value: Any) -> str | None:
    """Digits of an integer-valued string; "1000010100.00000000" (PLUTO bbl is a number) -> "1000010100"."""
    if value is None:
        return None
    s = (value if type(value) is str else str(value)).strip()
    if s.isdigit():
        return s
    head, dot, tail = s.partition(".")
    if dot and head.isdigit() and (not tail or tail.strip("0") == ""):
        return head
    return None


def normalize_bbl(value: Any) -> str | None:
    """A valid 10-digit BBL or None ("0", blanks, decimals with a fraction, borough 0/6+, block or lot 0)."""
    s = _integral_digits(value)
    if s is None or len(s) != 10 or s[0] not in "12345":
        return None
    if s[1:6] == "00000" or s[6:] == "0000":
        return None
    return s


def lot4(lot: str) -> str | None:
    """nycdb's lot rule: DOB/ECB lots are sometimes 5 chars whose first is not part of the lot -> drop it."""
    n = len(lot)
    if n == 5:
        return lot[1:]
    if n > 5:
        return None
    return lot.zfill(4)


def bbl_from_parts(borough: Any, block: Any, lot: Any) -> str | None:
    """BBL derived the nycdb way: boro + block.zfill(5) + lot4(lot); None when a part is unusable."""
    code = borough if type(borough) is int else borough_code(borough)
    if code is None:
        return None
    # DOB pads inside the value too ("0 051"): a space in a block or lot stands for a zero.
    b = _integral_digits(block.strip().replace(" ", "0") if type(block) is str else block)
    lt = _integral_digits(lot.strip().replace(" ", "0") if type(lot) is str else lot)
    if b is None or lt is None or len(b) > 5:
        return None
    l4 = lot4(lt)
    if l4 is None:
        return None
    return normalize_bbl(f"{code}{b.zfill(5)}{l4}")


def is_placeholder_bin(value: Any) -> bool:
    """BINs 1000000..5000000 mean "no specific building on this lot" (and "0" means nothing)."""
    s = _integral_digits(value)
    return s is not None and (s.strip("0") == "" or (len(s) == 7 and s[1:] == "000000"))


def normalize_bin(value: Any) -> str | None:
    """A real 7-digit BIN or None (placeholders, "0", blanks, wrong length or borough digit)."""
    s = _integral_digits(value)
    if s is None or len(s) != 7 or s[0] not in "12345" or s[1:] == "000000":
        return None
    return s


def bin_problem(value: Any) -> str | None:
    """Why a present BIN value was dropped, when it is not simply a documented placeholder."""
    if value is None or normalize_bin(value) is not None or is_placeholder_bin(value):
        return None
    s = str(value).strip()
    return f"malformed bin {s!r}" if s else None
