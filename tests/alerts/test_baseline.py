"""Alerts report what happens after monitoring starts, through the real path: a synthetic city that ends today,
served by the replay server, ingested into PostgreSQL, evaluated, and delivered over SMTP to a local mailbox.

What was already there (a dataset's first sync, a new rule's or a newly watched building's records, deadlines
that had already passed) becomes baseline alerts: in the feed, never notified. What the city publishes later
is notified exactly once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from citysim.replay.server import serve_in_background
from citysim.synth import SynthConfig, write_city
from citysim.synth.live import HPD, LiveCity
from sentinel.alerts.engine import evaluate_run, evaluate_time_based
from sentinel.alerts.outbox import Outbox
from sentinel.channels import SmtpEmailChannel, SmtpSettings
from sentinel.deadlines import city_today
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from sentinel.mailbox import LocalMailbox, messages, start_mailbox
from tests.alerts import seed

TODAY = city_today(datetime.now(UTC))
FULL = RunOptions(datasets=["hpd_violations"], incremental=False)
INCREMENTAL = RunOptions(datasets=["hpd_violations"], incremental=True)
EMAIL = [{"kind": "email", "target": "manager@example.com"}]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("live-city") / "city"
    write_city(SynthConfig(buildings=40, start=TODAY - timedelta(days=3 * 365), end=TODAY, seed=11), out)
    return out


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[LocalMailbox]:
    box = start_mailbox(tmp_path / "mailbox")
    yield box
    box.stop()


def _busiest(server_url: str, count: int) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The buildings with the most open Class C violations, and one published row of each (a template)."""
    rows = httpx.get(
        f"{server_url}/resource/{HPD}.json",
        params={"$where": "violationstatus='Open' AND class='C'", "$limit": 50_000},
    ).json()
    bbls = [bbl for bbl, _ in Counter(r["bbl"] for r in rows if r.get("bbl")).most_common(count)]
    return bbls, {r["bbl"]: r for r in rows if r.get("bbl") in bbls}


def _watch(conn: psycopg.Connection, bbls: list[str]) -> int:
    """An organization that starts watching `bbls` now: new Class C violations, certify-by dates within 14 days
    and overdue deadlines, all by email."""
    now = datetime.now(UTC)
    org_id = seed.org(conn)
    portfolio = seed.portfolio(conn, org_id, bbls, added_at=now)
    for condition in (
        {"type": "new_violation", "sources": ["HPD"], "classes": ["C"]},
        {"type": "deadline_approaching", "deadlines": ["certify_by"], "within_days": 14},
        {"type": "deadline_overdue"},
    ):
        seed.rule(conn, org_id, condition, EMAIL, name=condition["type"], monitoring_since=now)
    return portfolio


def _counts(conn: psycopg.Connection) -> tuple[int, int, int]:
    """(alerts, baseline alerts, outbox rows)."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM alerts), (SELECT count(*) FROM alerts WHERE baseline),"
        " (SELECT count(*) FROM notifications)"
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def _deliver(db_url: str, box: LocalMailbox) -> None:
    channels = {"email": SmtpEmailChannel(SmtpSettings(host="127.0.0.1", port=box.port))}
    Outbox(db_url, channels).drain(datetime.now(UTC) + timedelta(seconds=1))


def test_the_first_load_with_rules_in_place_notifies_nothing_and_a_later_change_notifies_once(
    db_url: str, city: Path, mailbox: LocalMailbox, tmp_path: Path
) -> None:
    with serve_in_background(city) as server, psycopg.connect(db_url, autocommit=True) as conn:
        bbls, templates = _busiest(server.url, 3)
        _watch(conn, bbls)

        first_run, _ = run_serial(db_url, SocrataSource(server.url), FULL)
        by_run = evaluate_run(conn, first_run)
        by_clock = evaluate_time_based(conn)

        # The open Class C violations of the watched buildings are in the feed, as what was there already.
        assert by_run.alerts_created > 0 and by_run.baseline == by_run.alerts_created
        assert by_clock.baseline == by_clock.alerts_created
        alerts, baseline, outbox = _counts(conn)
        assert (alerts, baseline, outbox) == (alerts, alerts, 0)

        # The city publishes one new Class C violation at a watched building.
        published = LiveCity(tmp_path, server).publish([templates[bbls[0]]], ["C"], TODAY)
        later_run, _ = run_serial(db_url, SocrataSource(server.url), INCREMENTAL)
        news = evaluate_run(conn, later_run)
        deadline = evaluate_time_based(conn)
        _deliver(db_url, mailbox)

        assert (news.alerts_created, news.baseline, news.notified) == (1, 0, 1)
        assert (deadline.alerts_created, deadline.notified) == (1, 1)  # its certify-by date, 6-10 days ahead
        new_key = f"violation:HPD:{published[0]['violationid']}:new"
        assert conn.execute("SELECT baseline FROM alerts WHERE trigger_key = %s", (new_key,)).fetchone() == (False,)

        # Nothing else happens: evaluating and delivering again sends nothing more.
        quiet_run, _ = run_serial(db_url, SocrataSource(server.url), INCREMENTAL)
        assert evaluate_run(conn, quiet_run).alerts_created == 0
        assert evaluate_run(conn, later_run).alerts_created == 0
        assert evaluate_time_based(conn).alerts_created == 0
        _deliver(db_url, mailbox)
        assert _counts(conn)[2] == 2

    delivered = list(messages(mailbox.directory))
    subjects = sorted(m.subject for m in delivered)
    assert len(delivered) == 2, subjects
    assert "Certify-by date in" in subjects[0] and "New HPD Class C violation" in subjects[1]
    assert all(m.to == "manager@example.com" for m in delivered)


def test_a_new_rule_over_years_of_history_notifies_nothing_until_something_new_happens(
    db_url: str, city: Path, tmp_path: Path
) -> None:
    with serve_in_background(city) as server, psycopg.connect(db_url, autocommit=True) as conn:
        bbls, templates = _busiest(server.url, 4)
        first_run, _ = run_serial(db_url, SocrataSource(server.url), FULL)
        assert evaluate_run(conn, first_run).alerts_created == 0  # no rules yet

        portfolio = _watch(conn, bbls[:3])
        baseline = evaluate_time_based(conn)
        again = evaluate_run(conn, first_run)  # the history's run, evaluated late, is still history
        assert baseline.alerts_created > 0 and baseline.baseline == baseline.alerts_created
        assert (again.alerts_created, baseline.notifications, again.notifications) == (0, 0, 0)
        open_c = conn.execute(
            "SELECT count(*) FROM violations WHERE bbl = ANY(%s) AND status = 'open' AND class = 'C'", (bbls[:3],)
        ).fetchone()[0]
        new_c = conn.execute("SELECT count(*) FROM alerts WHERE trigger_key LIKE 'violation:%%:new'").fetchone()[0]
        assert new_c == open_c  # every open Class C record is in the feed, as a baseline

        # A building joins the portfolio: its years of history are its baseline too.
        conn.execute("INSERT INTO portfolio_buildings (portfolio_id, bbl) VALUES (%s, %s)", (portfolio, bbls[3]))
        joined = evaluate_time_based(conn)
        assert joined.alerts_created > 0 and joined.baseline == joined.alerts_created
        assert _counts(conn)[2] == 0

        # Then the city publishes a new Class C violation there: that one is news.
        LiveCity(tmp_path, server).publish([templates[bbls[3]]], ["C"], TODAY)
        later_run, _ = run_serial(db_url, SocrataSource(server.url), INCREMENTAL)
        news = evaluate_run(conn, later_run)
        assert (news.alerts_created, news.notified, news.notifications) == (1, 1, 1)
        assert _counts(conn)[2] == 1


def test_evaluate_now_notifies_a_published_change_once_and_the_run_evaluation_then_finds_it_known(
    db_url: str, city: Path, tmp_path: Path
) -> None:
    from sentinel.alerts.engine import load_rules
    from sentinel.alerts.on_demand import OnDemandAlerts
    from sentinel.db.pool import create_pool

    with serve_in_background(city) as server, psycopg.connect(db_url, autocommit=True) as conn:
        bbls, templates = _busiest(server.url, 2)
        run_serial(db_url, SocrataSource(server.url), FULL)
        _watch(conn, bbls)
        (class_c,) = [r for r in load_rules(conn).rules if r.condition.type == "new_violation"]
        pool = create_pool(db_url, min_size=1, max_size=2, name="evaluate-now-test")
        try:
            engine = OnDemandAlerts(pool.connection)
            baseline = engine.evaluate([class_c], datetime.now(UTC))
            published = LiveCity(tmp_path, server).publish([templates[bbls[1]]], ["C"], TODAY)
            later_run, _ = run_serial(db_url, SocrataSource(server.url), INCREMENTAL)  # nobody evaluates the run
            now = engine.evaluate([class_c], datetime.now(UTC))
            again = engine.evaluate([class_c], datetime.now(UTC))
        finally:
            pool.close()
        by_run = evaluate_run(conn, later_run)

        assert baseline["alerts_created"] == baseline["baseline"] > 0 and baseline["notified"] == 0
        assert (now["alerts_created"], now["baseline"], now["notified"], now["notifications"]) == (1, 0, 1, 1)
        assert (again["alerts_created"], by_run.alerts_created, by_run.notifications) == (0, 0, 0)
        key = f"violation:HPD:{published[0]['violationid']}:new"
        rows = conn.execute(
            "SELECT n.channel, n.target FROM notifications n JOIN alerts a ON a.id = n.alert_id"
            " WHERE a.trigger_key = %s",
            (key,),
        ).fetchall()
        assert rows == [("email", "manager@example.com")]
