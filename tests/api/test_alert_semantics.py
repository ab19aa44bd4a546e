"""What alerts mean, over the HTTP API and real PostgreSQL: evaluate-now goes through the engine (a rule's
existing records are its baseline, what arrives after it is notified, once), the dry-run counts by the records'
own dates, and the property page and the dry-run say the same "days overdue"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from sentinel.deadlines import city_today
from tests.api import seed
from tests.api.conftest import Api

BBL_DRY, BBL_OVERDUE, BBL_EVAL = "5000040004", "5000040005", "5000040006"


@pytest.fixture(scope="module")
def gamma(api: Api) -> int:
    with psycopg.connect(api.database_url) as conn:
        org_id, emails = seed.add_org(conn, "gamma")
        for n, bbl in enumerate((BBL_DRY, BBL_OVERDUE, BBL_EVAL)):
            seed.add_property(conn, bbl, f"{40 + n} SEMANTICS STREET")
        conn.commit()
    api.orgs["gamma"], api.emails["gamma"] = org_id, emails
    return org_id


def _rule(condition: dict[str, Any], bbl: str, **extra: Any) -> dict[str, Any]:
    return {"name": condition["type"], "condition": condition, "scope": {"type": "buildings", "bbls": [bbl]}, **extra}


def test_dry_run_counts_by_the_records_own_dates_not_when_they_were_ingested(api: Api, gamma: int) -> None:
    today = city_today(datetime.now(UTC))
    with psycopg.connect(api.database_url) as conn:  # every row below is ingested "now"
        for days_ago in (2, 20, 29, 30, 45, 2400):
            seed.add_violation(conn, BBL_DRY, klass="C", issued=today - timedelta(days=days_ago))
        seed.add_violation(conn, BBL_DRY, klass="B", issued=today - timedelta(days=3))
        closed = seed.add_violation(conn, BBL_DRY, klass="B", status="closed", issued=today - timedelta(days=400))
        conn.execute("UPDATE violations SET status_date = %s WHERE id = %s", (today - timedelta(days=4), closed))
        old_close = seed.add_violation(conn, BBL_DRY, klass="B", status="closed", issued=today - timedelta(days=900))
        conn.execute("UPDATE violations SET status_date = %s WHERE id = %s", (today - timedelta(days=60), old_close))
        seed.add_complaint(conn, BBL_DRY, received=today - timedelta(days=5))
        seed.add_complaint(conn, BBL_DRY, received=today - timedelta(days=700))
        conn.commit()
    with api.as_("gamma", "viewer") as v:
        class_c = v.post("/v1/alert-rules/dry-run", json=_rule({"type": "new_violation", "classes": ["C"]}, BBL_DRY))
        closings = v.post(
            "/v1/alert-rules/dry-run",
            json=_rule({"type": "violation_status_change", "transitions": ["closed"]}, BBL_DRY),
        )
        complaints = v.post("/v1/alert-rules/dry-run", json=_rule({"type": "new_complaint"}, BBL_DRY))
    assert class_c.status_code == 200, class_c.text
    body = class_c.json()
    # Issued 2, 20 and 29 days ago fall in the 30 days that end today; 30, 45 and 2400 days ago do not.
    assert body["would_have_fired"] == 3
    assert body["window"] == {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat()}
    issued = sorted(e["payload"]["record"]["issued_date"] for e in body["examples"])
    assert issued == sorted((today - timedelta(days=d)).isoformat() for d in (2, 20, 29))
    assert closings.json()["would_have_fired"] == 1
    assert complaints.json()["would_have_fired"] == 1


def test_days_overdue_is_the_same_on_the_property_page_and_in_the_dry_run(api: Api, gamma: int) -> None:
    today = city_today(datetime.now(UTC))
    with psycopg.connect(api.database_url) as conn:
        seed.add_violation(
            conn, BBL_OVERDUE, klass="B", issued=today - timedelta(days=40), certify_by=today - timedelta(days=12)
        )
        seed.add_violation(
            conn, BBL_OVERDUE, klass="B", issued=today - timedelta(days=1500), certify_by=today - timedelta(days=1400)
        )
        conn.commit()
    with api.as_("gamma", "viewer") as v:
        page = v.get(f"/v1/properties/{BBL_OVERDUE}").json()
        dry = v.post("/v1/alert-rules/dry-run", json=_rule({"type": "deadline_overdue"}, BBL_OVERDUE)).json()
    overdue = {e["due"]: e for e in page["deadlines"]["overdue"]}
    recent = overdue[(today - timedelta(days=12)).isoformat()]
    assert recent["days_overdue"] == 12 and recent["days"] == -12
    assert overdue[(today - timedelta(days=1400)).isoformat()]["days_overdue"] == 1400
    # Only the deadline that passed inside the window "would have fired": the one overdue for years was already
    # overdue when the window began (the rule's baseline).
    assert dry["would_have_fired"] == 1
    (example,) = dry["examples"]
    assert example["deadline"]["due"] == recent["due"]
    assert example["deadline"]["days_overdue"] == recent["days_overdue"] == 12
    assert "12 days past" in example["payload"]["summary"]


def test_evaluate_now_makes_existing_records_a_baseline_and_notifies_what_came_after_once(api: Api, gamma: int) -> None:
    today = city_today(datetime.now(UTC))
    with psycopg.connect(api.database_url) as conn:  # years of history before the rule exists
        for days_ago in (3, 200, 1000):
            seed.add_violation(conn, BBL_EVAL, klass="C", issued=today - timedelta(days=days_ago))
        conn.commit()
    email = [{"kind": "email", "target": "ops@gamma.test"}]
    with api.as_("gamma", "manager") as m:
        rule = m.post(
            "/v1/alert-rules", json=_rule({"type": "new_violation", "classes": ["C"]}, BBL_EVAL, channels=email)
        )
        assert rule.status_code == 201, rule.text
        rule_id = rule.json()["id"]
        baseline = m.post(f"/v1/alert-rules/{rule_id}/evaluate").json()
        with psycopg.connect(api.database_url) as conn:  # the city publishes a new Class C violation
            new_id = seed.add_violation(conn, BBL_EVAL, klass="C", issued=today)
            conn.commit()
        news = m.post(f"/v1/alert-rules/{rule_id}/evaluate").json()
        again = m.post(f"/v1/alert-rules/{rule_id}/evaluate").json()
        feed = m.get("/v1/alerts", params={"rule_id": rule_id}).json()["items"]
        only_news = m.get("/v1/alerts", params={"rule_id": rule_id, "baseline": False}).json()["items"]

    assert (baseline["alerts_created"], baseline["baseline"], baseline["notified"]) == (3, 3, 0)
    assert (news["alerts_created"], news["baseline"], news["notified"], news["notifications"]) == (1, 0, 1, 1)
    assert (again["alerts_created"], again["notifications"]) == (0, 0)
    with psycopg.connect(api.database_url) as conn:
        source_id = conn.execute("SELECT source_id FROM violations WHERE id = %s", (new_id,)).fetchone()[0]
        outbox = conn.execute(
            "SELECT a.trigger_key, n.channel, n.target FROM notifications n JOIN alerts a ON a.id = n.alert_id"
            " WHERE a.rule_id = %s",
            (rule_id,),
        ).fetchall()
    assert outbox == [(f"violation:HPD:{source_id}:new", "email", "ops@gamma.test")]
    kinds = sorted((a["kind"], a["note"]) for a in feed)
    assert kinds == [("baseline", "already open when monitoring began")] * 3 + [("event", None)]
    assert [a["trigger_key"] for a in only_news] == [f"violation:HPD:{source_id}:new"]
