"""The engine against real PostgreSQL: what a run changed becomes alerts and outbox rows, once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg

from sentinel.alerts.engine import (
    evaluate_rules,
    evaluate_run,
    evaluate_scores,
    evaluate_time_based,
    load_rules,
    run_events,
    store,
    unknown,
)
from sentinel.alerts.evaluate import RuleIndex, candidates
from tests.alerts import seed
from tests.alerts.seed import UNWATCHED, WATCHED, WATCHED_2

# 15:00 UTC = 10:00 in New York on 2026-11-25
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
EMAIL = [{"kind": "email", "target": "owner@example.com"}]


def _watching_org(conn: psycopg.Connection) -> int:
    org_id = seed.org(conn)
    seed.portfolio(conn, org_id, [WATCHED, WATCHED_2])
    return org_id


def test_a_new_class_c_violation_at_a_watched_building_is_one_alert_and_one_email(conn: psycopg.Connection) -> None:
    org_id = _watching_org(conn)
    rule_id = seed.rule(conn, org_id, {"type": "new_violation", "classes": ["C"]}, EMAIL)
    run_id = seed.run(conn, NOW - timedelta(minutes=2))
    seed.violation(conn, "1", WATCHED, run_id, NOW - timedelta(minutes=1))
    seed.violation(conn, "2", UNWATCHED, run_id, NOW - timedelta(minutes=1))
    seed.violation(
        conn, "3", WATCHED, run_id, NOW - timedelta(minutes=1), violation_class="A", severity="non_hazardous"
    )

    result = evaluate_run(conn, run_id, NOW)

    assert (result.events, result.alerts_created, result.notifications) == (3, 1, 1)
    alert = conn.execute("SELECT rule_id, bbl, trigger_key FROM alerts").fetchall()
    assert alert == [(rule_id, WATCHED, "violation:HPD:1:new")]
    (note,) = seed.notifications(conn)
    assert (note["channel"], note["target"], note["status"]) == ("email", "owner@example.com", "pending")
    assert note["next_attempt_at"] == NOW
    assert note["payload"] is None  # rendered from the alert when it is sent


def test_evaluating_a_run_again_creates_and_notifies_nothing(conn: psycopg.Connection) -> None:
    org_id = _watching_org(conn)
    seed.rule(conn, org_id, {"type": "new_violation"}, EMAIL)
    run_id = seed.run(conn, NOW - timedelta(minutes=2))
    seed.violation(conn, "1", WATCHED, run_id, NOW - timedelta(minutes=1))

    first = evaluate_run(conn, run_id, NOW)
    again = evaluate_run(conn, run_id, NOW + timedelta(minutes=5))

    assert (first.alerts_created, again.alerts_created, again.notifications) == (1, 0, 0)
    assert len(seed.notifications(conn)) == 1


def test_a_record_first_seen_in_an_earlier_run_is_a_change_not_a_new_violation(conn: psycopg.Connection) -> None:
    org_id = _watching_org(conn)
    seed.rule(conn, org_id, {"type": "new_violation"}, EMAIL, name="new")
    seed.rule(conn, org_id, {"type": "violation_status_change", "transitions": ["closed"]}, EMAIL, name="closed")
    old_run = seed.run(conn, NOW - timedelta(days=1))
    vid = seed.violation(conn, "9", WATCHED, old_run, NOW - timedelta(days=1))
    run_id = seed.run(conn, NOW - timedelta(minutes=2))
    seed.change_status(conn, vid, run_id, "closed", date(2026, 11, 24))

    (event,) = run_events(conn, run_id)
    assert (event.old_status, event.new_status) == ("open", "closed")
    evaluate_run(conn, run_id, NOW)

    keys = [k for (k,) in conn.execute("SELECT trigger_key FROM alerts")]
    assert keys == ["violation:HPD:9:closed:2026-11-24"]


def test_cooldown_stores_a_burst_but_notifies_once_per_building(conn: psycopg.Connection) -> None:
    org_id = _watching_org(conn)
    seed.rule(conn, org_id, {"type": "new_violation"}, EMAIL, cooldown_minutes=60)
    run_id = seed.run(conn, NOW - timedelta(minutes=2))
    for i in range(3):
        seed.violation(conn, str(i), WATCHED, run_id, NOW - timedelta(minutes=1))
    seed.violation(conn, "other", WATCHED_2, run_id, NOW - timedelta(minutes=1))

    result = evaluate_run(conn, run_id, NOW)
    assert (result.alerts_created, result.notified, result.silenced) == (4, 2, 2)

    # The cooldown remembers across evaluations: it is read back from the alerts that got notifications.
    later_run = seed.run(conn, NOW + timedelta(minutes=10))
    seed.violation(conn, "late", WATCHED, later_run, NOW + timedelta(minutes=11))
    later = evaluate_run(conn, later_run, NOW + timedelta(minutes=12))
    assert (later.alerts_created, later.notified, later.silenced) == (1, 0, 1)
    after_cooldown_run = seed.run(conn, NOW + timedelta(minutes=70))
    seed.violation(conn, "after", WATCHED, after_cooldown_run, NOW + timedelta(minutes=71))
    assert evaluate_run(conn, after_cooldown_run, NOW + timedelta(minutes=72)).notified == 1
    silenced = conn.execute("SELECT count(*) FROM alerts WHERE payload ? 'silenced_by_cooldown'").fetchone()
    assert silenced == (3,)


def test_quiet_hours_and_digests_are_stored_as_due_times(conn: psycopg.Connection) -> None:
    org_id = _watching_org(conn)
    night = {"start": "22:00", "end": "07:00"}
    seed.rule(conn, org_id, {"type": "new_violation"}, EMAIL, quiet_hours=night, name="quiet")
    seed.rule(conn, org_id, {"type": "new_violation"}, EMAIL, delivery="daily", name="daily")
    created = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)  # 23:00 EST
    run_id = seed.run(conn, created - timedelta(minutes=2))
    seed.violation(conn, "1", WATCHED, run_id, created - timedelta(minutes=1))

    evaluate_run(conn, run_id, created)

    rows = {(n["delivery"], n["next_attempt_at"]) for n in seed.notifications(conn)}
    seven_am = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    eight_am = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    assert rows == {("immediate", seven_am), ("daily", eight_am)}


def test_time_based_checks_fire_once_per_deadline_balance_crossing_and_stale_source(conn: psycopg.Connection) -> None:
    org_id = _watching_org(conn)
    seed.rule(conn, org_id, {"type": "deadline_approaching", "deadlines": ["hearing"], "within_days": 7}, EMAIL)
    seed.rule(conn, org_id, {"type": "penalty_balance_above", "amount": "1000"}, EMAIL)
    seed.rule(conn, org_id, {"type": "source_stale", "grace_hours": 6}, EMAIL)
    run_id = seed.run(conn, NOW - timedelta(days=3))
    seed.violation(conn, "h1", WATCHED, run_id, NOW, hearing=date(2026, 11, 28))
    seed.violation(conn, "h2", WATCHED, run_id, NOW, hearing=date(2026, 12, 28))  # too far
    seed.violation(conn, "b1", WATCHED_2, run_id, NOW, balance_due="1500.00")
    conn.execute(
        "INSERT INTO watermarks (dataset, partition, updated_at_mark, run_id) VALUES ('hpd_violations', '1', %s, %s)",
        (NOW - timedelta(days=3), run_id),
    )

    first = evaluate_time_based(conn, NOW)
    second = evaluate_time_based(conn, NOW + timedelta(minutes=5))

    keys = sorted(k for (k,) in conn.execute("SELECT trigger_key FROM alerts"))
    assert keys == [
        "balance:1000010002:above:1000:2026-11-25",
        "deadline:HPD:h1:hearing:2026-11-28",
        "stale:hpd_violations:2026-11-22T15:00:00Z",
    ]
    assert (first.alerts_created, second.alerts_created) == (3, 0)
    # A balance that stays above the threshold does not fire again the next day either.
    assert evaluate_time_based(conn, NOW + timedelta(days=1)).alerts_created == 0


def test_a_watched_score_crossing_its_threshold_is_one_alert_and_one_email_and_a_first_score_notifies_nobody(
    conn: psycopg.Connection,
) -> None:
    org_id = _watching_org(conn)
    rule_id = seed.rule(conn, org_id, {"type": "risk_score", "crosses_above": 80}, EMAIL)
    today, yesterday = NOW.date(), NOW.date() - timedelta(days=1)
    seed.score(conn, WATCHED, yesterday, 70, NOW - timedelta(days=1))
    seed.score(conn, WATCHED, today, 85, NOW - timedelta(minutes=1))  # crosses 80
    seed.score(conn, WATCHED_2, today, 90, NOW - timedelta(minutes=1))  # its first score: already that high
    seed.score(conn, UNWATCHED, yesterday, 10, NOW - timedelta(days=1))
    seed.score(conn, UNWATCHED, today, 95, NOW - timedelta(minutes=1))

    first = evaluate_scores(conn, NOW)
    again = evaluate_scores(conn, NOW + timedelta(minutes=5))

    alerts = conn.execute("SELECT rule_id, bbl, trigger_key, baseline FROM alerts ORDER BY bbl").fetchall()
    assert alerts == [
        (rule_id, WATCHED, f"risk:{WATCHED}:overall:above:80:{today}", False),
        (rule_id, WATCHED_2, f"risk:{WATCHED_2}:overall:above:80:{today}", True),
    ]
    assert (first.alerts_created, first.notifications, again.alerts_created, again.notifications) == (2, 1, 0, 0)
    (note,) = seed.notifications(conn)
    assert note["target"] == "owner@example.com"


def test_scores_stored_before_the_window_and_a_score_that_stays_above_do_not_alert(conn: psycopg.Connection) -> None:
    org_id = _watching_org(conn)
    seed.rule(conn, org_id, {"type": "risk_score", "crosses_above": 80, "jumps_by": 10}, EMAIL)
    day = NOW.date()
    seed.score(conn, WATCHED, day - timedelta(days=3), 50, NOW - timedelta(days=3))
    seed.score(conn, WATCHED, day - timedelta(days=2), 90, NOW - timedelta(days=2))  # crossed, two days ago
    seed.score(conn, WATCHED, day, 92, NOW - timedelta(minutes=1))  # still above, up 2

    assert evaluate_scores(conn, NOW).alerts_created == 0
    # Evaluated from before the crossing, the same scores give its two alerts, dated by the score's day.
    result = evaluate_scores(conn, NOW, since=NOW - timedelta(days=4))
    keys = sorted(k for (k,) in conn.execute("SELECT trigger_key FROM alerts"))
    assert keys == [f"risk:{WATCHED}:overall:above:80:{day - timedelta(days=2)}",
                    f"risk:{WATCHED}:overall:jump:{day - timedelta(days=2)}"]  # fmt: skip
    assert result.alerts_created == 2


def test_evaluate_now_of_a_risk_score_rule_reads_the_last_days_scores(conn: psycopg.Connection) -> None:
    org_id = _watching_org(conn)
    rule_id = seed.rule(conn, org_id, {"type": "risk_score", "jumps_by": 15}, EMAIL)
    other = seed.rule(conn, org_id, {"type": "risk_score", "crosses_above": 99}, EMAIL)
    day = NOW.date()
    seed.score(conn, WATCHED, day - timedelta(days=1), 40, NOW - timedelta(days=1))
    seed.score(conn, WATCHED, day, 60, NOW - timedelta(hours=2))

    result = evaluate_rules(conn, [rule_id, other], NOW)

    rows = conn.execute("SELECT rule_id, trigger_key FROM alerts").fetchall()
    assert rows == [(rule_id, f"risk:{WATCHED}:overall:jump:{day}")]
    assert (result.alerts_created, result.notifications) == (1, 1)


def test_re_evaluating_after_a_rule_is_added_alerts_and_notifies_for_that_rule_only(
    conn: psycopg.Connection,
) -> None:
    org_id = _watching_org(conn)
    first_rule = seed.rule(conn, org_id, {"type": "new_violation"}, EMAIL, name="first")
    run_id = seed.run(conn, NOW - timedelta(minutes=2))
    seed.violation(conn, "1", WATCHED, run_id, NOW - timedelta(minutes=1))
    seed.violation(conn, "2", WATCHED_2, run_id, NOW - timedelta(minutes=1))
    first = evaluate_run(conn, run_id, NOW)
    added_rule = seed.rule(conn, org_id, {"type": "new_violation"}, EMAIL, name="added")

    again = evaluate_run(conn, run_id, NOW + timedelta(minutes=5))

    assert (first.alerts_created, again.candidates, again.alerts_created, again.notifications) == (2, 4, 2, 2)
    rows = conn.execute("SELECT rule_id, count(*) FROM alerts GROUP BY rule_id ORDER BY rule_id").fetchall()
    assert rows == [(first_rule, 2), (added_rule, 2)]
    notified = conn.execute(
        "SELECT a.rule_id, count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id GROUP BY a.rule_id"
        " ORDER BY a.rule_id"
    ).fetchall()
    assert notified == [(first_rule, 2), (added_rule, 2)]


def test_an_alert_another_writer_created_after_the_key_check_is_not_created_or_notified_twice(
    conn: psycopg.Connection,
) -> None:
    org_id = _watching_org(conn)
    rule_id = seed.rule(conn, org_id, {"type": "new_violation"}, EMAIL)
    run_id = seed.run(conn, NOW - timedelta(minutes=2))
    seed.violation(conn, "1", WATCHED, run_id, NOW - timedelta(minutes=1))
    seed.violation(conn, "2", WATCHED_2, run_id, NOW - timedelta(minutes=1))
    ruleset = load_rules(conn)
    hits = RuleIndex(ruleset.rules, ruleset.directory).hits(run_events(conn, run_id), NOW)
    with conn.transaction():
        fresh = candidates(unknown(conn, hits))
    # Like the API's evaluate, which takes no evaluation lock: the alert appears between check and insert.
    conn.execute(
        "INSERT INTO alerts (rule_id, org_id, bbl, trigger_key, title) VALUES (%s, %s, %s, %s, 'by the API')",
        (rule_id, org_id, WATCHED, "violation:HPD:1:new"),
    )

    with conn.transaction():
        result = store(conn, ruleset, fresh, NOW)

    assert (len(fresh), result.alerts_created, result.notifications) == (2, 1, 1)
    rows = conn.execute("SELECT trigger_key, title FROM alerts ORDER BY trigger_key").fetchall()
    assert rows == [
        ("violation:HPD:1:new", "by the API"),
        ("violation:HPD:2:new", f"New HPD Class C violation at BBL {WATCHED_2}"),
    ]
    (note,) = seed.notifications(conn)
    assert note["alert_id"] == result.alert_ids[0]
