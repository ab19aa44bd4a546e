"""Placing records that came without a BBL by their coordinates: the nearest lot within ~60 m, found through the
lots' point index, so its cost per record does not grow with the city (every lot in a band across the city was
read for each record before migration 0029)."""

from __future__ import annotations

import psycopg

from sentinel.ingest import locate

# A grid of lots 0.0004 degrees apart (~44 m north-south) over 0.08 x 0.08 degrees: 40,000 lots in one borough.
STEP = 0.0004
SIDE = 200
ORIGIN = (40.70, -73.95)


def _lots(conn: psycopg.Connection) -> None:
    conn.execute(
        "INSERT INTO properties (bbl, borough, block, lot, latitude, longitude) "
        "SELECT lpad((3000000000 + i * 1000 + j)::text, 10, '0'), 3, i + 1, j + 1, %s + i * %s, %s + j * %s "
        "FROM generate_series(0, %s - 1) i, generate_series(0, %s - 1) j",
        (ORIGIN[0], STEP, ORIGIN[1], STEP, SIDE, SIDE),
    )


def _complaint(conn: psycopg.Connection, source_id: str, lat: float, lon: float) -> None:
    conn.execute(
        "INSERT INTO complaints (source, source_id, status, content_hash, latitude, longitude, borough, raw) "
        "VALUES ('311', %s, 'open', 'h', %s, %s, 3, '{}')",
        (source_id, lat, lon),
    )


def _bbl(i: int, j: int) -> str:
    return f"{3000000000 + i * 1000 + j:010d}"


def test_the_nearest_lot_within_sixty_metres_and_none_beyond(fresh_db: str) -> None:
    with psycopg.connect(fresh_db) as conn:
        _lots(conn)
        # Nearer lot (10, 20) than (10, 21); between (50, 50) and (51, 50) but nearer (51, 50); and a point past
        # the grid's edge by more than the box: no lot.
        _complaint(conn, "near", ORIGIN[0] + 10 * STEP + 0.00005, ORIGIN[1] + 20 * STEP + 0.00012)
        _complaint(conn, "between", ORIGIN[0] + 50.6 * STEP, ORIGIN[1] + 50 * STEP)
        _complaint(conn, "outside", ORIGIN[0] - 0.002, ORIGIN[1])
        conn.commit()
        conn.execute("ANALYZE properties")
        conn.execute("ANALYZE complaints")
        located = locate.resolve_unlocated(conn, "311")
        stored = dict(conn.execute("SELECT source_id, bbl FROM complaints").fetchall())
    assert located == {"coordinates": 2, "unresolved": 1}
    assert stored == {"near": _bbl(10, 20), "between": _bbl(51, 50), "outside": None}


def test_the_lookup_reads_the_lots_point_index(fresh_db: str) -> None:
    with psycopg.connect(fresh_db) as conn:
        _lots(conn)
        for k in range(200):
            _complaint(conn, str(k), ORIGIN[0] + (k % 190) * STEP, ORIGIN[1] + (k * 7 % 190) * STEP)
        conn.commit()
        conn.execute("ANALYZE properties")
        conn.execute("ANALYZE complaints")
        statement = locate._BY_COORDINATES.replace("{scope}", locate._SCOPE)
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + statement, {"source": "311"}))
    # Not a scan of every lot in a band (the latitude btree) nor of the table: the box, from the GiST index.
    assert "properties_point_idx" in plan, plan
    assert "Seq Scan on properties" not in plan, plan
