"""Finding the lot of records that came without a BBL (311 requests): by address, then by coordinates, against
the PLUTO lots in `properties`; then the BIN, from the buildings of that lot.

The address is matched on sentinel/address.py's key, which PLUTO's `address` and 311's `incident_address`
both normalize to ("3 CLARENCE AVE" and "3 CLARENCE AVENUE" meet), within the record's borough when it has one;
a key matching lots in two boroughs with no borough to choose stays unresolved. Coordinates take the lot whose
PLUTO point is nearest within ~60 m: PLUTO has a point per lot, not its outline, so this is the nearest lot and
`bbl_source = 'coordinates'` says so. Records of every run are retried, so requests ingested before PLUTO
are resolved by the run that loads it.
"""

from __future__ import annotations

import psycopg

from sentinel.address import address_key

_BY_ADDRESS = """
WITH candidates AS (
    SELECT c.id, p.bbl FROM complaints c
    JOIN properties p ON p.address_key = c.address_key AND (c.borough IS NULL OR p.borough = c.borough)
    WHERE c.bbl IS NULL AND NOT c.is_deleted AND c.address_key IS NOT NULL AND {scope}
), unique_lots AS (
    SELECT id, min(bbl) AS bbl FROM candidates GROUP BY id HAVING count(DISTINCT bbl) = 1
)
UPDATE complaints c SET bbl = u.bbl, borough = coalesce(c.borough, substr(u.bbl, 1, 1)::smallint),
    bbl_source = 'address', updated_at = now(), last_run_id = %(run_id)s
FROM unique_lots u WHERE c.id = u.id
"""

# ~60 m: a request geocoded to the street in front of a building falls within it; a lot further away is not
# it. 0.00055 degrees of latitude; 0.00073 of longitude is the same distance at New York (cos 40.7 = 0.758).
# The box is asked as `point <@ box` (edges included, as BETWEEN), which properties_point_idx (GiST) answers.
_BY_COORDINATES = """
WITH nearest AS (
    SELECT c.id, (
        SELECT p.bbl FROM properties p
        WHERE point(p.longitude, p.latitude) <@ box(
                point(c.longitude - 0.00073, c.latitude - 0.00055), point(c.longitude + 0.00073, c.latitude + 0.00055))
          AND p.latitude IS NOT NULL AND p.longitude IS NOT NULL
          AND (c.borough IS NULL OR p.borough = c.borough)
        ORDER BY (p.latitude - c.latitude) ^ 2 + ((p.longitude - c.longitude) * 0.758) ^ 2, p.bbl
        LIMIT 1
    ) AS bbl
    FROM complaints c
    WHERE c.bbl IS NULL AND NOT c.is_deleted AND c.latitude IS NOT NULL AND c.longitude IS NOT NULL AND {scope}
)
UPDATE complaints c SET bbl = n.bbl, borough = coalesce(c.borough, substr(n.bbl, 1, 1)::smallint),
    bbl_source = 'coordinates', updated_at = now(), last_run_id = %(run_id)s
FROM nearest n WHERE c.id = n.id AND n.bbl IS NOT NULL
"""

_BY_BIN = """
UPDATE complaints c SET bbl = b.bbl, bbl_source = 'bin', updated_at = now(), last_run_id = %(run_id)s
FROM buildings b WHERE c.bbl IS NULL AND NOT c.is_deleted AND c.bin IS NOT NULL AND b.bin = c.bin AND {scope}
  AND b.bbl IS NOT NULL
"""

# A lot with exactly one building gives its BIN to the records located on it. Only the lots of such records are
# grouped: the buildings of the whole city, grouped for each run, cost a day in proportion to the city.
_FILL_BIN = """
WITH waiting AS (
    SELECT c.id, c.bbl FROM complaints c
    WHERE c.bin IS NULL AND c.bbl IS NOT NULL AND c.bbl_source IN ('address', 'coordinates') AND {scope}
), single AS (
    SELECT b.bbl, min(b.bin) AS bin FROM buildings b
    WHERE b.bbl IN (SELECT bbl FROM waiting) GROUP BY b.bbl HAVING count(*) = 1
)
UPDATE complaints c SET bin = s.bin
FROM waiting w JOIN single s ON s.bbl = w.bbl WHERE c.id = w.id
"""

_SCOPE = (
    "(%(source)s::text IS NULL OR c.source = %(source)s::text)"
    " AND (%(written_after)s::bigint IS NULL OR c.last_run_id > %(written_after)s::bigint)"
)
_UNRESOLVED = "SELECT count(*) FROM complaints c WHERE bbl IS NULL AND NOT is_deleted AND {scope}"


# A request placed by its point before the lot at its address was known moves to that lot once it is.
_UPGRADE = """
WITH candidates AS (
    SELECT c.id, p.bbl FROM complaints c
    JOIN properties p ON p.address_key = c.address_key AND p.borough = c.borough
    WHERE c.bbl_source = 'coordinates' AND NOT c.is_deleted AND c.address_key IS NOT NULL AND {scope}
), unique_lots AS (
    SELECT id, min(bbl) AS bbl FROM candidates GROUP BY id HAVING count(DISTINCT bbl) = 1
)
UPDATE complaints c SET bbl = u.bbl, bin = NULL, bbl_source = 'address', updated_at = now(),
    last_run_id = %(run_id)s
FROM unique_lots u WHERE c.id = u.id AND c.bbl <> u.bbl
"""


def resolve_unlocated(
    conn: psycopg.Connection,
    source: str | None = None,
    *,
    run_id: int,
    upgrade: bool = False,
    written_after: int | None = None,
) -> dict[str, int]:
    """Resolves every live complaint without a BBL that it can (of one `source`, or all; with `written_after`, only
    those written by a later ingestion run); returns {bbl_source: records resolved, 'unresolved': n}. A record
    placed on a lot is written by ingestion run `run_id` (its `last_run_id`), so what reads a run's records sees
    it. One transaction; cheap when nothing is unresolved (a partial index holds exactly those rows)."""
    params = {"source": source, "written_after": written_after, "run_id": run_id}

    def run(statement: str) -> psycopg.Cursor:
        return conn.execute(statement.replace("{scope}", _SCOPE), params)  # type: ignore[arg-type]

    with conn.transaction():
        located: dict[str, int] = {}
        if upgrade:
            moved = run(_UPGRADE).rowcount
            if moved > 0:
                located["moved_to_address"] = moved
        if run(_UNRESOLVED).fetchone()[0]:  # type: ignore[index]
            for how, statement in (("address", _BY_ADDRESS), ("coordinates", _BY_COORDINATES), ("bin", _BY_BIN)):
                n = run(statement).rowcount
                if n > 0:
                    located[how] = n
            unresolved = run(_UNRESOLVED).fetchone()[0]  # type: ignore[index]
            if unresolved:
                located["unresolved"] = unresolved
        if set(located) - {"unresolved"}:
            run(_FILL_BIN)
    return located


def backfill_address_keys(conn: psycopg.Connection, batch: int = 10_000) -> int:
    """Gives lots stored before address keys existed (or written by hand) their key; a re-read PLUTO row whose
    content did not change is not rewritten by the merge, so its key would otherwise stay NULL."""
    done = 0
    while True:
        with conn.transaction():
            rows = conn.execute(
                "SELECT bbl, address FROM properties WHERE address_key IS NULL AND address IS NOT NULL "
                "AND NOT (coalesce(quality, '[]'::jsonb) @> %s::jsonb) LIMIT %s FOR UPDATE SKIP LOCKED",
                ('[{"field": "address"}]', batch),
            ).fetchall()
            if not rows:
                return done
            keyed = [(address_key(address), bbl) for bbl, address in rows]
            # An address with no house number has no key: marked in `quality` so it is not asked again.
            with conn.cursor() as cur:
                cur.executemany(
                    "UPDATE properties SET address_key = %s, quality = CASE WHEN %s::text IS NULL THEN "
                    "coalesce(quality, '[]'::jsonb) || jsonb_build_array(jsonb_build_object('field', 'address', "
                    "'raw', address, 'reason', 'no house number and street to key')) ELSE quality END "
                    "WHERE bbl = %s",
                    [(key, key, bbl) for key, bbl in keyed],
                )
            done += len(rows)
