"""Placing records that came without a BBL by their coordinates: the nearest lot within ~60 m, found through the
lots' point index, so its cost per record does not grow with the city (every lot in a band across the city was
read for each record before migration 0029)."""

from __future__ import annotations

import psycopg

from sentinel.datasets import load_datasets
from sentinel.ingest import locate
from sentinel.ingest.lifecycle import locate_after_run
from sentinel.ingest.pipeline import DatasetSummary
from tests.conftest import ingestion_run

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


def _complaint(conn: psycopg.Connection, source_id: str, lat: float, lon: float, run: int | None = None) -> None:
    conn.execute(
        "INSERT INTO complaints (source, source_id, status, content_hash, latitude, longitude, borough, raw, "
        "last_run_id) VALUES ('311', %s, 'open', 'h', %s, %s, 3, '{}', %s)",
        (source_id, lat, lon, run),
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
        run = ingestion_run(conn, "running")
        located = locate.resolve_unlocated(conn, "311", run_id=run)
        stored = {r[0]: r[1:] for r in conn.execute("SELECT source_id, bbl, last_run_id FROM complaints")}
    assert located == {"coordinates": 2, "unresolved": 1}
    # A placed record was written by the run that placed it: what reads a run's changes (alerts, rescoring) sees it.
    assert stored == {"near": (_bbl(10, 20), run), "between": (_bbl(51, 50), run), "outside": (None, None)}


def test_the_lookup_reads_the_lots_point_index(fresh_db: str) -> None:
    with psycopg.connect(fresh_db) as conn:
        _lots(conn)
        for k in range(200):
            _complaint(conn, str(k), ORIGIN[0] + (k % 190) * STEP, ORIGIN[1] + (k * 7 % 190) * STEP)
        conn.commit()
        conn.execute("ANALYZE properties")
        conn.execute("ANALYZE complaints")
        statement = locate._BY_COORDINATES.replace("{scope}", locate._SCOPE)
        params = {"source": "311", "written_after": None, "run_id": 1}
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + statement, params))
    # Not a scan of every lot in a band (the latitude btree) nor of the table: the box, from the GiST index.
    assert "properties_point_idx" in plan, plan
    assert "Seq Scan on properties" not in plan, plan


def test_a_day_without_new_lots_tries_only_the_records_written_since_the_last_finished_run(fresh_db: str) -> None:
    catalog = load_datasets()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        _lots(conn)
        placed, failed, today = (
            ingestion_run(conn, "succeeded"),
            ingestion_run(conn, "failed"),
            ingestion_run(conn, "running"),
        )
        # Unplaced records of each run, every one within reach of a lot. A record of a finished run was tried by
        # it: with no lot read since, trying it again cannot place it (here it could: that is what shows it was
        # not tried). The failed run never got to locate its records.
        _complaint(conn, "tried", ORIGIN[0] + 10 * STEP, ORIGIN[1] + 10 * STEP, placed)
        _complaint(conn, "of the failed run", ORIGIN[0] + 20 * STEP, ORIGIN[1] + 20 * STEP, failed)
        _complaint(conn, "new", ORIGIN[0] + 30 * STEP, ORIGIN[1] + 30 * STEP, today)
        day = {"service_requests_311": DatasetSummary("service_requests_311")}
        locate_after_run(conn, day, catalog, today)
        assert day["service_requests_311"].located == {"coordinates": 2}  # the records it tried, all placed
        assert _placed(conn) == {"of the failed run": _bbl(20, 20), "new": _bbl(30, 30)}
        # A run that read the lots tries every unplaced record.
        with_lots = {"service_requests_311": DatasetSummary("service_requests_311"), "pluto": DatasetSummary("pluto")}
        locate_after_run(conn, with_lots, catalog, ingestion_run(conn, "running"))
        assert with_lots["service_requests_311"].located == {"coordinates": 1}
        assert _placed(conn)["tried"] == _bbl(10, 10)


def _placed(conn: psycopg.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT source_id, bbl FROM complaints WHERE bbl IS NOT NULL").fetchall())


def test_a_record_placed_on_a_lot_of_one_building_gets_its_bin(fresh_db: str) -> None:
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        _lots(conn)
        conn.execute(
            "INSERT INTO buildings (bin, bbl) VALUES ('3000001', %s), ('3000002', %s), ('3000003', %s)",
            (_bbl(5, 5), _bbl(6, 6), _bbl(6, 6)),
        )
        _complaint(conn, "one building", ORIGIN[0] + 5 * STEP, ORIGIN[1] + 5 * STEP)
        _complaint(conn, "two buildings", ORIGIN[0] + 6 * STEP, ORIGIN[1] + 6 * STEP)
        _complaint(conn, "no building", ORIGIN[0] + 7 * STEP, ORIGIN[1] + 7 * STEP)
        assert locate.resolve_unlocated(conn, "311", run_id=ingestion_run(conn, "running")) == {"coordinates": 3}
        bins = dict(conn.execute("SELECT source_id, bin FROM complaints").fetchall())
    assert bins == {"one building": "3000001", "two buildings": None, "no building": None}
