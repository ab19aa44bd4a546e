"""Finding lots: the one address normalizer (sentinel/address.py) on both sides, so "3 CLARENCE AVE" finds
the lot PLUTO writes as "3 CLARENCE AVENUE"; a street alone lists its lots; a BIN is looked up in every dataset
that carries one (HPD registrations' buildings, violations, complaints), since many BINs appear only in DOB data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from sentinel.address import parse_address

COLUMNS = "p.bbl, p.borough, p.address, p.zip, p.bldg_class, p.units_res, p.year_built"


@dataclass(frozen=True, slots=True)
class PropertyQuery:
    bbl: str | None = None
    bin: str | None = None
    address: str | None = None  # "3 Clarence Ave, Bronx", or a street alone ("Clarence Ave"), or a prefix
    borough: int | None = None
    limit: int = 20
    offset: int = 0


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def bbls_of_bin(conn: psycopg.Connection, bin_: str) -> list[str]:
    rows = conn.execute(
        "SELECT bbl FROM buildings WHERE bin = %(bin)s AND bbl IS NOT NULL "
        "UNION SELECT DISTINCT bbl FROM violations WHERE bin = %(bin)s AND bbl IS NOT NULL "
        "UNION SELECT DISTINCT bbl FROM complaints WHERE bin = %(bin)s AND bbl IS NOT NULL",
        {"bin": bin_},
    ).fetchall()
    return sorted(r[0] for r in rows)


def find_properties(conn: psycopg.Connection, query: PropertyQuery) -> list[dict[str, Any]]:
    where: list[str] = []
    params: list[Any] = []
    borough = query.borough
    if query.bbl:
        where.append("p.bbl = %s")
        params.append(query.bbl)
    if query.bin:
        where.append("p.bbl = ANY(%s::bpchar[])")
        params.append(bbls_of_bin(conn, query.bin))
    if query.address:
        parsed = parse_address(query.address)
        if parsed is None:
            return []
        borough = borough or parsed.borough
        prefix = _like_escape(" ".join(query.address.upper().split())) + "%"
        if parsed.house:
            # The normalized key, or what was typed as a prefix of PLUTO's own text ("761 CLAR").
            where.append("(p.address_key = %s OR p.address LIKE %s)")
            params += [parsed.key, prefix]
        else:
            # A street alone: every lot on it (house numbers hold no spaces, so the street follows the first one).
            where.append("(substr(p.address_key, strpos(p.address_key, ' ') + 1) = %s OR p.address LIKE %s)")
            params += [parsed.street, prefix]
    if borough:
        where.append("p.borough = %s")
        params.append(borough)
    if not where:
        return []
    sql = (
        f"SELECT {COLUMNS} FROM properties p WHERE {' AND '.join(where)} "  # noqa: S608 -- constant fragments; values bound
        "ORDER BY p.address, p.bbl LIMIT %s OFFSET %s"
    )
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, [*params, query.limit, query.offset]).fetchall()


def lots_at_address(conn: psycopg.Connection, text: str) -> list[str]:
    """BBLs whose PLUTO address is this address (at most 2: more than one is ambiguous to the caller)."""
    parsed = parse_address(text)
    if parsed is None or not parsed.house:
        return []
    rows = conn.execute(
        "SELECT bbl FROM properties WHERE address_key = %s AND (%s::smallint IS NULL OR borough = %s) "
        "ORDER BY bbl LIMIT 2",
        (parsed.key, parsed.borough, parsed.borough),
    ).fetchall()
    return [r[0] for r in rows]


def quality_of(conn: psycopg.Connection, bbl: str, limit: int = 50) -> list[dict[str, Any]]:
    """The lot's stored records with field problems: what the source sent and why it was not taken as is."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "(SELECT 'violation' AS kind, source, source_id, quality FROM violations "
            " WHERE bbl = %(bbl)s AND quality IS NOT NULL AND NOT is_deleted ORDER BY id LIMIT %(n)s) UNION ALL "
            "(SELECT 'complaint', source, source_id, quality FROM complaints "
            " WHERE bbl = %(bbl)s AND quality IS NOT NULL AND NOT is_deleted ORDER BY id LIMIT %(n)s)",
            {"bbl": bbl, "n": limit},
        ).fetchall()
