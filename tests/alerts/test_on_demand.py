"""The API's dry-runs go through the engine's own scans (sentinel.alerts.on_demand over sentinel.alerts.engine)."""

from __future__ import annotations

import functools
from datetime import timedelta

import psycopg
import pytest

from sentinel.alerts.engine import evaluate_time_based, load_rules
from sentinel.alerts.on_demand import OnDemandAlerts
from tests.alerts import seed
from tests.alerts.seed import WATCHED, WATCHED_2
from tests.alerts.test_engine import EMAIL, NOW

pytestmark = pytest.mark.integration


def test_a_balance_dry_run_counts_what_the_scheduled_scan_counts_and_moves_no_snapshot(
    conn: psycopg.Connection, db_url: str
) -> None:
    org_id = seed.org(conn)
    seed.portfolio(conn, org_id, [WATCHED, WATCHED_2])
    seed.rule(conn, org_id, {"type": "penalty_balance_above", "amount": "1000"}, EMAIL)
    run_id = seed.run(conn, NOW - timedelta(days=3))
    # A credit on one violation does not pay another's penalty: the scan sums what is owed (1500), not 900.
    seed.violation(conn, "owed", WATCHED_2, run_id, NOW, balance_due="1500.00")
    seed.violation(conn, "credit", WATCHED_2, run_id, NOW, balance_due="-600.00")
    (rule,) = load_rules(conn).rules

    dry = OnDemandAlerts(functools.partial(psycopg.connect, db_url)).dry_run(rule, NOW)

    assert dry["would_have_fired"] >= 1 and dry["approximate"]
    assert {e["bbl"] for e in dry["examples"]} == {WATCHED_2}
    assert conn.execute("SELECT count(*) FROM alert_balance_snapshots").fetchone() == (0,)
    assert evaluate_time_based(conn, NOW).alerts_created == 1
