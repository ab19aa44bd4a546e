"""Scoring every lot in parts: the city's bbl order cut into ranges (`scoring.lot_ranges`), each read by the feature
query restricted to it. Together the ranges give the single query's rows, each lot once, those named only by
violations or complaints (no PLUTO row) included, wherever they fall against the cuts."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pandas as pd
import psycopg
import pytest

from sentinel.risk import dataset, scoring
from sentinel.risk.features import EVERY_LOT, LotRange
from tests.model.conftest import CITY_END

pytestmark = pytest.mark.integration

CUTOFF = CITY_END + timedelta(days=1)  # the day after the city's last, as scoring it reads


def _violation(conn: psycopg.Connection, bbl: str) -> None:
    conn.execute(
        "INSERT INTO violations (source, source_id, bbl, severity, status, issued_date, raw, content_hash) "
        "VALUES ('HPD', %s, %s, 'hazardous', 'open', %s, '{}', 'x')",
        (f"only-{bbl}", bbl, date(2025, 6, 1)),
    )


def _complaint(conn: psycopg.Connection, bbl: str) -> None:
    conn.execute(
        "INSERT INTO complaints (source, source_id, bbl, category, status, received_date, raw, content_hash) "
        "VALUES ('311', %s, %s, 'HEAT/HOT WATER', 'open', %s, '{}', 'x')",
        (f"only-{bbl}", bbl, date(2025, 6, 1)),
    )


def _below(bbl: str) -> str:
    return f"{int(bbl) - 1:010d}"


def _read(conn: psycopg.Connection, lots: LotRange) -> pd.DataFrame:
    with dataset.feature_chunks(conn, CUTOFF, 45, lots) as (total, chunks):
        frame = pd.concat(list(chunks), ignore_index=True)
    assert total == len(frame)
    return frame


def _property_bbls(conn: psycopg.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT bbl::text FROM properties ORDER BY bbl")]


def test_the_ranges_hold_as_many_of_plutos_lots_each_to_one_lot(city_url):
    url, _ = city_url
    with psycopg.connect(url) as conn:
        properties = _property_bbls(conn)
        assert scoring.lot_ranges(conn, 1) == [EVERY_LOT]
        for parts in (2, 3, 7):
            ranges = scoring.lot_ranges(conn, parts)
            assert len(ranges) == parts
            assert ranges[0].lo is None and ranges[-1].hi is None
            assert all(a.hi == b.lo for a, b in itertools.pairwise(ranges))
            sizes = [
                sum(1 for b in properties if (r.lo is None or b >= r.lo) and (r.hi is None or b < r.hi)) for r in ranges
            ]
            assert sum(sizes) == len(properties)
            assert max(sizes) - min(sizes) <= 1
        # More parts than lots: a range a lot.
        many = scoring.lot_ranges(conn, 10 * len(properties))
        assert len(many) == len(properties)
        # No lots in PLUTO (not loaded yet): one range, the whole city.
        conn.execute("DELETE FROM properties")
        assert scoring.lot_ranges(conn, 4) == [EVERY_LOT]
        conn.rollback()


def test_the_ranges_together_read_every_lot_of_the_single_query_once(city_url):
    url, _ = city_url
    with psycopg.connect(url) as conn:
        properties = _property_bbls(conn)
        cuts = [r.lo for r in scoring.lot_ranges(conn, 7)[1:]]
        # Lots no PLUTO row names: just below a cut (the range below it reads them), below the first lot and after
        # the last (the open ends), and bbls no lot has (violations' and complaints' bbls are not checked).
        only_violations = [_below(cuts[2]), "1000000000", "5999999999", "0000000001", "9999999999"]
        only_complaints = [_below(cuts[4]), "6000000000"]
        assert not set(only_violations + only_complaints) & set(properties)
        for bbl in only_violations:
            _violation(conn, bbl)
        for bbl in only_complaints:
            _complaint(conn, bbl)
        conn.commit()
        single = _read(conn, EVERY_LOT)
        assert set(only_violations + only_complaints) <= set(single["bbl"])
        for parts in (2, 3, 7):
            in_parts = pd.concat([_read(conn, r) for r in scoring.lot_ranges(conn, parts)], ignore_index=True)
            pd.testing.assert_frame_equal(in_parts, single)
