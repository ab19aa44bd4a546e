"""Where a record is: BBL, BIN and borough from whatever keys its dataset has, with warnings for bad ones."""

from __future__ import annotations

from typing import Any

from sentinel.bbl import bbl_from_parts, bin_problem, borough_code, normalize_bbl, normalize_bin
from sentinel.normalize.outcome import RejectRecord
from sentinel.numbers import to_float

# A box around the five boroughs: coordinates outside it are a geocoder's error, not a place to attach data to.
_NYC_LATITUDE = (40.47, 40.93)
_NYC_LONGITUDE = (-74.27, -73.68)


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
    elif lot_bbl is None and code is None and block is not None and lot is not None:
        given = str(borough).strip() if borough is not None else ""
        what = f"unrecognized {given!r}" if given else "missing"
        warnings.append(f"borough: {what}, needed with block {block!r} lot {lot!r} for a bbl")
    elif lot_bbl is not None and code is not None and int(lot_bbl[0]) != code:
        warnings.append(f"borough: {code} disagrees with bbl {lot_bbl}")
    return lot_bbl, b, code


_LOCATION_FIELDS = ("bbl", "bin", "borough")


def require_location(
    bbl: str | None, bin_: str | None, warnings: list[str] | None = None, *, keys: str = "bbl, block/lot or bin"
) -> None:
    """Violations and complaints without a BBL or BIN cannot be attached to any building: the reject says what
    exactly was wrong (a borough missing beside a valid block/lot, a malformed bbl, a placeholder bin) or, when
    nothing was wrong, which of the dataset's location `keys` were all absent."""
    if bbl is not None or bin_ is not None:
        return
    problems = [w for w in warnings or () if w.partition(":")[0] in _LOCATION_FIELDS]
    if problems:
        raise RejectRecord("no usable location: " + "; ".join(problems))
    raise RejectRecord(f"no usable location: no {keys} given")


def coordinates(raw: dict[str, Any], warnings: list[str]) -> tuple[float | None, float | None]:
    """(latitude, longitude) of a record: its own columns, else its `location` (GeoJSON point in the API,
    `{latitude, longitude}` in SODA 2.0 bodies); None, None when absent or outside the city."""
    lat = to_float(raw.get("latitude"), "latitude", warnings)
    lon = to_float(raw.get("longitude"), "longitude", warnings)
    location = raw.get("location")
    if (lat is None or lon is None) and isinstance(location, dict):
        point = location.get("coordinates")
        if isinstance(point, list) and len(point) == 2:
            lon, lat = to_float(point[0], "location", warnings), to_float(point[1], "location", warnings)
        else:
            lat = to_float(location.get("latitude"), "location", warnings)
            lon = to_float(location.get("longitude"), "location", warnings)
    if lat is None or lon is None:
        return None, None
    if not (_NYC_LATITUDE[0] <= lat <= _NYC_LATITUDE[1] and _NYC_LONGITUDE[0] <= lon <= _NYC_LONGITUDE[1]):
        warnings.append(f"latitude: {lat!r}, {lon!r} is outside New York City")
        return None, None
    return lat, lon
