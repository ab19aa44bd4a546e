"""A small NYC gazetteer: enough real street names, zips, neighbourhoods and district numbers per borough for
synthetic addresses to look like the real ones. Not a map: a building's street and zip are drawn together,
its coordinates near the borough's centre."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Borough:
    code: int  # 1 Manhattan .. 5 Staten Island, the first digit of BBL and BIN
    name: str  # HPD / 311 spelling
    short: str  # PLUTO / vacate orders spelling
    title: str  # DOB NOW spelling
    unit: str  # DOB complaint unit of the borough office
    share: float  # share of the city's residential buildings
    max_block: int
    streets: tuple[tuple[str, str], ...]  # (street name, HPD street code)
    zips: tuple[str, ...]
    ntas: tuple[str, ...]
    boards: int  # community boards 1..boards
    council: tuple[int, int]  # council district range
    center: tuple[float, float]  # latitude, longitude
    hyphenated: bool  # Queens house numbers look like "77-54"


BOROUGHS: tuple[Borough, ...] = (
    Borough(
        1,
        "MANHATTAN",
        "MN",
        "Manhattan",
        "MAN.",
        0.10,
        2255,
        (
            ("WEST 14TH STREET", "35250"),
            ("EAST 116 STREET", "15320"),
            ("AMSTERDAM AVENUE", "10090"),
            ("BROADWAY", "10700"),
            ("WEST  108 STREET", "35170"),
            ("MAGAW PLACE", "24510"),
            ("COLUMBIA STREET", "11840"),
            ("LENOX AVENUE", "23510"),
            ("FORT WASHINGTON AVENUE", "16930"),
            ("EAST 4 STREET", "14100"),
            ("ST NICHOLAS AVENUE", "31230"),
            ("1 AVENUE", "10010"),
        ),
        ("10002", "10003", "10009", "10025", "10026", "10027", "10031", "10032", "10033", "10040"),
        (
            "Washington Heights (North)",
            "Central Harlem North-Polo Grounds",
            "East Harlem South",
            "Lower East Side",
            "Upper West Side",
            "Hamilton Heights",
        ),
        12,
        (1, 10),
        (40.7831, -73.9712),
        False,
    ),
    Borough(
        2,
        "BRONX",
        "BX",
        "Bronx",
        "BRONX",
        0.16,
        5958,
        (
            ("ECHO PLACE", "29920"),
            ("GRAND CONCOURSE", "37230"),
            ("WALTON AVENUE", "63770"),
            ("KNOX PLACE", "44600"),
            ("CLARENCE AVENUE", "24510"),
            ("MORRIS AVENUE", "51470"),
            ("SOUTHERN BOULEVARD", "58310"),
            ("CREOTON AVENUE", "26380"),
            ("EAST 180 STREET", "31750"),
        ),
        ("10451", "10452", "10453", "10456", "10457", "10458", "10460", "10467", "10468", "10465"),
        (
            "Mount Hope",
            "Norwood",
            "Fordham South",
            "Belmont",
            "University Heights-Morris Heights",
            "Highbridge",
            "Schuylerville-Throgs Neck-Edgewater Park",
        ),
        12,
        (8, 18),
        (40.8448, -73.8648),
        False,
    ),
    Borough(
        3,
        "BROOKLYN",
        "BK",
        "Brooklyn",
        "BKLYN",
        0.34,
        8955,
        (
            ("DEAN STREET", "18210"),
            ("HERKIMER STREET", "44030"),
            ("71 STREET", "10080"),
            ("15 STREET", "6630"),
            ("ROGERS AVENUE", "64410"),
            ("FLATBUSH AVENUE", "36110"),
            ("NOSTRAND AVENUE", "57650"),
            ("OCEAN AVENUE", "58250"),
            ("MARCY AVENUE", "51850"),
            ("LINDEN BOULEVARD", "48170"),
        ),
        ("11206", "11207", "11212", "11213", "11215", "11216", "11221", "11225", "11226", "11228", "11233"),
        (
            "Crown Heights North",
            "Ocean Hill",
            "East Flatbush-Erasmus",
            "Bushwick North",
            "Flatbush",
            "Bedford-Stuyvesant (East)",
            "Brownsville",
            "Dyker Heights",
        ),
        18,
        (33, 48),
        (40.6782, -73.9442),
        False,
    ),
    Borough(
        4,
        "QUEENS",
        "QN",
        "Queens",
        "QNS.",
        0.32,
        16350,
        (
            ("AUSTIN STREET", "28990"),
            ("HOLLIS AVENUE", "46240"),
            ("37 AVENUE", "11560"),
            ("ROOSEVELT AVENUE", "63390"),
            ("JAMAICA AVENUE", "49690"),
            ("SUTPHIN BOULEVARD", "72140"),
            ("QUEENS BOULEVARD", "62050"),
            ("NORTHERN BOULEVARD", "58720"),
        ),
        ("11354", "11355", "11368", "11372", "11373", "11375", "11412", "11432", "11434", "11435"),
        (
            "Forest Hills",
            "Hollis",
            "Jackson Heights",
            "Elmhurst",
            "Corona",
            "Jamaica",
            "Flushing-Willets Point",
        ),
        14,
        (19, 32),
        (40.7282, -73.7949),
        True,
    ),
    Borough(
        5,
        "STATEN ISLAND",
        "SI",
        "Staten Island",
        "S.I.",
        0.08,
        8050,
        (
            ("VICTORY BOULEVARD", "74370"),
            ("RICHMOND AVENUE", "58560"),
            ("BAY STREET", "14470"),
            ("FOREST AVENUE", "35550"),
            ("CASTLETON AVENUE", "20930"),
            ("HYLAN BOULEVARD", "46830"),
        ),
        ("10301", "10302", "10303", "10304", "10305", "10310", "10314"),
        (
            "St. George-New Brighton",
            "Stapleton-Clifton-Fox Hills",
            "Port Richmond",
            "Westerleigh-Castleton Corners",
        ),
        3,
        (49, 51),
        (40.5795, -74.1502),
        False,
    ),
)

BOROUGH_SHARES: tuple[float, ...] = tuple(b.share for b in BOROUGHS)


def borough(code: int) -> Borough:
    return BOROUGHS[code - 1]
