"""Features at a cutoff see nothing dated on or after it; labels see only the horizon."""

from __future__ import annotations

from datetime import date

import pandas as pd
import psycopg
import pytest

from sentinel.risk import dataset

pytestmark = pytest.mark.integration

CUTOFF = date(2023, 7, 1)


def _future_rows(conn: psycopg.Connection, bbl: str) -> None:
    """Records dated on or after the cutoff, and later closures of records that were open at it."""
    for i, issued in enumerate([CUTOFF, date(2023, 8, 15), date(2025, 1, 2)]):
        conn.execute(
            """INSERT INTO violations (source, source_id, bbl, borough, class, severity, status, issued_date,
                   status_date, certify_by_date, penalty_imposed, balance_due, raw, content_hash)
               VALUES ('HPD', %s, %s, 1, 'C', 'immediately_hazardous', 'open', %s, %s, %s, NULL, NULL, '{}', 'x'),
                      ('ECB', %s, %s, 1, 'CLASS - 1', 'immediately_hazardous', 'open', %s, %s, NULL, 5000, 5000,
                       '{}', 'x')""",
            (f"future-{i}", bbl, issued, issued, issued, f"future-ecb-{i}", bbl, issued, issued),
        )
        conn.execute(
            """INSERT INTO complaints (source, source_id, bbl, category, status, received_date, raw, content_hash)
               VALUES ('311', %s, %s, 'HEAT/HOT WATER', 'open', %s, '{}', 'x')""",
            (f"future-c-{i}", bbl, issued),
        )
    # Open at the cutoff, closed afterwards: the current status says closed, the cutoff must still see it open.
    closed = conn.execute(
        """UPDATE violations SET status = 'closed', status_date = %s
           WHERE issued_date < %s AND (status = 'open' OR status_date >= %s) RETURNING id, source, source_id""",
        (date(2023, 9, 1), CUTOFF, CUTOFF),
    ).fetchall()
    assert closed, "the city should have violations open at the cutoff"
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO status_history (record_kind, record_id, source, source_id, old_status, new_status,
                   changed_on) VALUES ('violation', %s, %s, %s, 'open', 'closed', %s)""",
            [(rid, src, sid, date(2023, 9, 1)) for rid, src, sid in closed],
        )
    conn.execute(
        "INSERT INTO registrations (registration_id, bbl, last_registration_date, registration_end_date, raw, "
        "content_hash) VALUES (999999, %s, %s, %s, '{}', 'x')",
        (bbl, date(2024, 1, 1), date(2025, 1, 1)),
    )


def test_adding_records_dated_after_the_cutoff_changes_no_feature(city_url):
    url, _ = city_url
    with psycopg.connect(url) as conn:
        before = dataset.features_at(conn, CUTOFF)
        bbl = before.loc[before["open_all"] > 0, "bbl"].iloc[0]
        _future_rows(conn, bbl)
        after = dataset.features_at(conn, CUTOFF)
        later = dataset.features_at(conn, date(2024, 1, 1))
        conn.rollback()
    pd.testing.assert_frame_equal(before, after)
    # The same rows do move the features of a later cutoff, so the comparison above can fail.
    row = later.set_index("bbl").loc[bbl]
    assert row["v_hpd_c_365"] >= 2


def test_a_violation_closed_after_the_cutoff_counts_as_open_at_it(city_url):
    url, _ = city_url
    with psycopg.connect(url) as conn:
        conn.execute(
            """INSERT INTO violations (source, source_id, bbl, borough, class, severity, status, issued_date,
                   status_date, certify_by_date, raw, content_hash)
               VALUES ('HPD', 'closed-later', '1999990001', 1, 'C', 'immediately_hazardous', 'closed',
                       '2023-01-10', '2023-12-01', '2023-01-24', '{}', 'x'),
                      ('HPD', 'closed-before', '1999990001', 1, 'B', 'hazardous', 'closed',
                       '2023-01-10', '2023-02-01', '2023-02-09', '{}', 'x')"""
        )
        row = dataset.features_at(conn, CUTOFF).set_index("bbl").loc["1999990001"]
        conn.rollback()
    assert (row["open_all"], row["open_hpd_c"], row["open_hpd_b"]) == (1, 1, 0)
    assert row["overdue_hpd_c"] == 1
    assert row["oldest_open_hpd_c_days"] == (CUTOFF - date(2023, 1, 10)).days
    assert (row["v_hpd_c_365"], row["v_hpd_b_365"], row["v_all_90"]) == (1, 1, 0)


def test_labels_count_only_events_inside_the_horizon(city_url):
    url, _ = city_url
    with psycopg.connect(url) as conn:
        conn.execute(
            """INSERT INTO violations (source, source_id, bbl, borough, class, severity, status, issued_date,
                   status_date, penalty_imposed, balance_due, raw, content_hash)
               VALUES ('HPD', 'in-horizon', '1999990002', 1, 'C', 'immediately_hazardous', 'closed',
                       '2024-06-30', '2024-07-01', NULL, NULL, '{}', 'x'),
                      ('ECB', 'after-horizon', '1999990003', 1, 'CLASS - 1', 'immediately_hazardous', 'open',
                       '2024-07-01', '2024-07-01', 9000, 9000, '{}', 'x')"""
        )
        labels = dataset.labels_at(conn, CUTOFF, horizon_days=366).set_index("bbl")
        conn.rollback()
    assert labels.loc["1999990002", "safety"] and labels.loc["1999990002", "overall"]
    assert not labels.loc["1999990002", "financial"]
    assert "1999990003" not in labels.index


def test_a_few_buildings_get_the_feature_rows_the_whole_city_gives_them(city_url):
    """Rescoring reads a few buildings' features by another route (their violations' history looked up one by one,
    not the city's read whole): both must agree, history entries on either side of the cutoff included."""
    url, _ = city_url
    with psycopg.connect(url) as conn:
        bbls = [
            row[0]
            for row in conn.execute(
                "SELECT bbl::text FROM violations WHERE issued_date < %s AND bbl IS NOT NULL GROUP BY bbl"
                " ORDER BY md5(bbl) LIMIT 40",
                (CUTOFF,),
            )
        ]
        before = dataset.features_at(conn, CUTOFF, bbls=bbls).set_index("bbl")
        # Each violation of these buildings: closed, reopened on a later day, then (for odd ids) closed again on
        # the reopening's own day (the higher id decides) and once more after the cutoff (not to be seen).
        conn.execute(
            """INSERT INTO status_history (record_kind, record_id, source, source_id, old_status, new_status,
                   changed_on)
               SELECT 'violation', v.id, v.source, v.source_id, e.old, e.new, e.day
               FROM violations v CROSS JOIN LATERAL (VALUES
                   ('open', 'closed', %(cutoff)s::date - 40, true), ('closed', 'open', %(cutoff)s::date - 20, true),
                   ('open', 'closed', %(cutoff)s::date - 20, v.id %% 2 = 1), ('closed', 'open', %(cutoff)s, true)
               ) AS e(old, new, day, wanted)
               WHERE v.bbl = ANY(%(bbls)s::bpchar[]) AND v.issued_date < %(cutoff)s::date - 40 AND e.wanted
               ORDER BY v.id, e.day""",
            {"cutoff": CUTOFF, "bbls": bbls},
        )
        whole = dataset.features_at(conn, CUTOFF).set_index("bbl").loc[sorted(bbls)]
        few = dataset.features_at(conn, CUTOFF, bbls=bbls).set_index("bbl").loc[sorted(bbls)]
        conn.rollback()
    pd.testing.assert_frame_equal(few, whole)
    # The history moved what is open at the cutoff, so the comparison covers it.
    assert (few["open_all"] != before.loc[sorted(bbls), "open_all"]).any()
