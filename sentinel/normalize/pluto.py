"""PLUTO (64uk-42ks) -> properties.

The API returns the number-typed `bbl` as "1000010100.00000000"; DCP release CSVs and portal exports spell
the same columns differently (see citysim/replay), and numbers may carry thousands separators ("1,700").
`yearbuilt` 0 means unknown; `landuse` lost its leading zero in some releases ("1" for "01").
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sentinel.address import address_key
from sentinel.bbl import bbl_from_parts, borough_code, normalize_bbl
from sentinel.normalize.hashing import content_hash
from sentinel.normalize.outcome import RejectRecord
from sentinel.numbers import to_float, to_int
from sentinel.records import PropertyRow
from sentinel.text import clean, clean_spaces


def _floors(value: Any, warnings: list[str]) -> Decimal | None:
    s = clean(value)
    if s is None:
        return None
    try:
        d = Decimal(s.replace(",", ""))
    except InvalidOperation:
        warnings.append(f"numfloors: not a number {s!r}")
        return None
    if not d.is_finite() or not 0 <= d < 10_000:  # numeric(6, 2)
        warnings.append(f"numfloors: out of range {s!r}")
        return None
    return d


def normalize(raw: dict[str, Any]) -> PropertyRow:
    warnings: list[str] = []
    g = raw.get
    bbl = normalize_bbl(g("bbl"))
    borough = to_int(g("borocode"), "borocode", warnings)
    if borough not in (1, 2, 3, 4, 5):
        borough = borough_code(clean(g("borough")))
    if bbl is None and borough is not None:
        bbl = bbl_from_parts(borough, clean(g("block")), clean(g("lot")))
    if bbl is None:
        raise RejectRecord(f"no valid bbl (bbl={g('bbl')!r}, block={g('block')!r}, lot={g('lot')!r})")
    if borough is None or borough != int(bbl[0]):
        borough = int(bbl[0])
    year_built = to_int(g("yearbuilt"), "yearbuilt", warnings)
    land_use = clean(g("landuse"))
    if land_use is not None and land_use.isdigit():
        land_use = land_use.zfill(2)
    address = clean_spaces(g("address"))
    return PropertyRow(
        bbl=bbl,
        borough=borough,
        block=int(bbl[1:6]),
        lot=int(bbl[6:]),
        address=address,
        zip=clean(g("zipcode")),
        units_res=to_int(g("unitsres"), "unitsres", warnings),
        units_total=to_int(g("unitstotal"), "unitstotal", warnings),
        num_floors=_floors(g("numfloors"), warnings),
        num_buildings=to_int(g("numbldgs"), "numbldgs", warnings),
        year_built=year_built or None,
        bldg_class=clean(g("bldgclass")),
        land_use=land_use,
        owner_type=clean(g("ownertype")),
        owner_name=clean_spaces(g("ownername")),
        latitude=to_float(g("latitude"), "latitude", warnings),
        longitude=to_float(g("longitude"), "longitude", warnings),
        pluto_version=clean(g("version")),
        raw=raw,
        content_hash=content_hash(raw),
        warnings=warnings,
        address_key=address_key(address),
    )
