"""PLUTO (64uk-42ks): one tax lot per building. `bbl` prints as a decimal ("1000010100.00000000") as the API does,
`splitzone` and `irrlotcode` are checkboxes (JSON booleans), numbers are strings without thousands separators."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from citysim.synth.context import Batch

DATASET_ID = "64uk-42ks"
VERSION = "26v2"
_ZONES = ("R6", "R5", "R3A", "R6A", "R7A", "R4", "R8", "R5B")
_OWNER_NAMES = (
    "UNAVAILABLE OWNER",
    "{street} HOLDINGS LLC",
    "{house} REALTY CORP",
    "RODRIGUEZ, JOSE R",
    "NYC HOUSING AUTHORITY",
    "FU ND CORP",
    "{house} {street} ASSOCIATES",
)


def rows(batch: Batch, as_of: int) -> Iterator[dict[str, Any]]:
    s, bl = batch.s, batch.bldgs
    n = len(bl)
    for b in range(n):
        units, floors = s.units[b], s.floors[b]
        front = 17 + (b * 7919 + units) % 60
        depth = 100
        area = front * depth
        bldgarea = int(floors * front * 0.8 * depth * 0.6)
        boro = s.boroid[b]
        owner = _OWNER_NAMES[(bl.block[b] + bl.lot[b]) % len(_OWNER_NAMES)].format(
            street=s.street[b].split(" ")[0], house=s.house[b]
        )
        row: dict[str, Any] = {
            "borough": s.boro_short[b],
            "block": s.block[b],
            "lot": s.lot[b],
            "cd": f"{boro}{int(s.cb[b]):02d}",
            "ct2010": s.tract[b],
            "cb2010": str(1000 + b % 9),
            "schooldist": str(1 + bl.block[b] % 32),
            "council": s.council[b],
            "zipcode": s.zip[b],
            "firecomp": f"E{bl.block[b] % 330:03d}",
            "policeprct": str(int(s.cb3[b]) % 123 or 1),
            "healtharea": str(100 * (1 + bl.block[b] % 60)),
            "sanitboro": boro,
            "sanitsub": f"{1 + bl.lot[b] % 5}{'ABCDE'[bl.block[b] % 5]}",
            "address": f"{s.house[b]} {s.street[b]}",
            "zonedist1": _ZONES[bl.block[b] % len(_ZONES)],
            "splitzone": False,
            "bldgclass": str(bl.bldgclass[b]),
            "landuse": "1" if units <= 2 else "2" if floors < 7 else "3",
            "easements": "0",
            "ownertype": str(bl.ownertype[b]) or None,
            "ownername": owner,
            "lotarea": str(area),
            "bldgarea": str(bldgarea),
            "comarea": "0",
            "resarea": str(bldgarea),
            "officearea": "0",
            "retailarea": "0",
            "garagearea": "0",
            "strgearea": "0",
            "factryarea": "0",
            "otherarea": "0",
            "areasource": "2",
            "numbldgs": "1",
            "numfloors": str(floors),
            "unitsres": str(units),
            "unitstotal": str(units),
            "lotfront": str(front),
            "lotdepth": str(depth),
            "bldgfront": str(int(front * 0.8)),
            "bldgdepth": str(int(depth * 0.6)),
            "ext": "N",
            "proxcode": str(1 + b % 3),
            "irrlotcode": False,
            "lottype": "5",
            "bsmtcode": str(b % 3),
            "assessland": str(area * 6),
            "assesstot": str(bldgarea * 30),
            "exempttot": str(bldgarea * 3 if bl.ownertype[b] in ("C", "X", "O") else 0),
            "yearbuilt": str(int(bl.year_built[b])),
            "yearalter1": "0",
            "yearalter2": "0",
            "builtfar": f"{bldgarea / area:.2f}",
            "residfar": "2.43",
            "commfar": "0",
            "facilfar": "2",
            "affresfar": "3",
            "mnffar": "0",
            "borocode": boro,
            "bbl": f"{s.bbl[b]}.00000000",
            "tract2010": s.tract[b],
            "xcoord": str(int(990_000 + (s.lon_f[b] + 73.97) * 277_000)),
            "ycoord": str(int(230_000 + (s.lat_f[b] - 40.80) * 364_000)),
            "latitude": s.lat[b],
            "longitude": s.lon[b],
            "zonemap": f"{1 + bl.block[b] % 28}{'abcd'[bl.lot[b] % 4]}",
            "sanborn": f"{boro}{bl.block[b] % 100:02d} {bl.lot[b] % 100:03d}",
            "taxmap": f"{boro}{bl.block[b] % 10000:04d}",
            "plutomapid": "1",
            "version": VERSION,
            "sanitdistrict": s.cb[b],
            "healthcenterdistrict": str(10 + int(boro) * 5),
            "bct2020": f"{boro}{int(s.tract[b]):06d}",
            "bctcb2020": f"{boro}{int(s.tract[b]):06d}{1000 + b % 9:04d}",
            "transitzone": "Beyond the Greater Transit Zone" if boro in ("4", "5") else "Manhattan Core",
        }
        yield {k: v for k, v in row.items() if v is not None}
