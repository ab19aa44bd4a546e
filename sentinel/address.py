"""NYC street addresses in one canonical form, so "3 Clarence Ave, Bronx", 311's "3 CLARENCE AVENUE" and PLUTO's
"3 CLARENCE AVENUE" meet on the same key.

The city writes street types in full ("AVENUE", "STREET"), numbered streets without their ordinal ("WEST 142
STREET", "5 AVENUE") and 311 pads names with runs of spaces ("EAST   35 STREET"); people type "Ave", "W 142nd St",
"Fifth Avenue". The key keeps the city's own form: full street types, bare numbers, spelled-out directions.
Ingestion (PLUTO lots, 311 requests), portfolio bulk-add and property search all call this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sentinel.bbl import borough_code

_SUFFIXES = {
    "AVE": "AVENUE", "AV": "AVENUE", "AVEN": "AVENUE", "AVENU": "AVENUE", "AVN": "AVENUE",
    "ST": "STREET", "STR": "STREET", "STRT": "STREET",
    "BLVD": "BOULEVARD", "BOUL": "BOULEVARD", "BLV": "BOULEVARD",
    "PL": "PLACE", "RD": "ROAD", "DR": "DRIVE", "LN": "LANE", "CT": "COURT", "TER": "TERRACE", "TERR": "TERRACE",
    "PKWY": "PARKWAY", "PKY": "PARKWAY", "HWY": "HIGHWAY", "SQ": "SQUARE", "EXPY": "EXPRESSWAY",
    "TPKE": "TURNPIKE", "CIR": "CIRCLE", "CRES": "CRESCENT", "PLZ": "PLAZA", "BCH": "BEACH", "WAY": "WAY",
    "ALY": "ALLEY", "HTS": "HEIGHTS", "PK": "PARK", "LOOP": "LOOP", "WALK": "WALK", "ROW": "ROW",
}  # fmt: skip
_STREET_TYPES = frozenset(_SUFFIXES.values())
_DIRECTIONS = {"E": "EAST", "W": "WEST", "N": "NORTH", "S": "SOUTH"}
_ORDINAL_WORDS = {
    "FIRST": "1", "SECOND": "2", "THIRD": "3", "FOURTH": "4", "FIFTH": "5", "SIXTH": "6", "SEVENTH": "7",
    "EIGHTH": "8", "NINTH": "9", "TENTH": "10", "ELEVENTH": "11", "TWELFTH": "12",
}  # fmt: skip
_ORDINAL = re.compile(r"^(\d+)(ST|ND|RD|TH)$")
_HOUSE = re.compile(r"^\d+[A-Z]?(-\d+[A-Z]?)?$")
_ZIP = re.compile(r"^\d{5}(-\d{4})?$")
# Spelled the way people and 311 write a borough after the street; "NEW YORK" is Manhattan's postal city.
_BOROUGH_WORDS = {
    ("MANHATTAN",): 1, ("NEW", "YORK"): 1, ("BRONX",): 2, ("THE", "BRONX"): 2, ("BROOKLYN",): 3,
    ("QUEENS",): 4, ("STATEN", "ISLAND"): 5,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Address:
    house: str | None  # "3", "31-15", "123A"
    street: str  # canonical street name: "CLARENCE AVENUE", "WEST 142 STREET"
    borough: int | None

    @property
    def key(self) -> str:
        """What PLUTO's address of the same lot normalizes to: house number and street."""
        return f"{self.house} {self.street}" if self.house else self.street


def _tokens(text: str) -> list[str]:
    text = re.sub(r"[.,#]", " ", text.upper())
    text = re.sub(r"\s*-\s*", "-", text)  # "31 - 15" -> "31-15" (Queens hyphenated numbers)
    return text.split()


def normalize_street(text: str | None) -> str | None:
    """A street name in the city's form: 'w 142nd st' -> 'WEST 142 STREET', 'Clarence Ave' -> 'CLARENCE AVENUE'."""
    if not text:
        return None
    tokens = _tokens(text)
    return " ".join(_street_tokens(tokens)) or None


def _street_tokens(tokens: list[str]) -> list[str]:
    out: list[str] = []
    last = len(tokens) - 1
    for i, word in enumerate(tokens):
        ordinal = _ORDINAL.match(word)
        if ordinal:
            word = ordinal.group(1)
        elif word in _ORDINAL_WORDS and i < last and _SUFFIXES.get(tokens[i + 1], tokens[i + 1]) in _STREET_TYPES:
            word = _ORDINAL_WORDS[word]
        elif word in _DIRECTIONS and i < last:
            word = _DIRECTIONS[word]
        elif word == "ST" and i < last and out == []:
            word = "SAINT"  # "ST MARKS PLACE": a leading ST is a saint, a trailing one a street
        elif word in _SUFFIXES and (i == last or i > 0):
            word = _SUFFIXES[word]
        out.append(word)
    return out


def parse_address(text: str | None, borough: object = None) -> Address | None:
    """House number, canonical street and borough of a free-text address; None when there is no street.

    A borough may follow the street ("3 Clarence Ave, Bronx", "... BRONX NY 10465") or come separately."""
    if not text or not text.strip():
        return None
    tokens = _tokens(text)
    while tokens and (_ZIP.match(tokens[-1]) or tokens[-1] in ("NY", "NYC")):
        tokens.pop()
    code = borough_code(borough) if borough is not None else None
    for words, value in sorted(_BOROUGH_WORDS.items(), key=lambda item: -len(item[0])):
        n = len(words)
        if len(tokens) > n + 1 and tuple(tokens[-n:]) == words:
            tokens = tokens[:-n]
            code = code or value
            break
    house = None
    if len(tokens) > 1 and _HOUSE.match(tokens[0]):
        house, tokens = tokens[0], tokens[1:]
    street = " ".join(_street_tokens(tokens))
    if not street:
        return None
    return Address(house, street, code)


def address_key(text: str | None) -> str | None:
    """The key of a full address ("761 CLARENCE AVENUE"), or None without both a house number and a street."""
    parsed = parse_address(text)
    return parsed.key if parsed and parsed.house else None
