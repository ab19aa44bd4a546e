"""Scopes, the BBL index, exactly-once trigger keys and the dry-run."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from sentinel.alerts import AlertRule, PortfolioDirectory, RuleIndex, dry_run, evaluate
from sentinel.alerts.events import ComplaintChange, Event, OpenViolation, ScoreChange, ViolationChange
from tests.alerts.factories import BBL_A, BBL_B, BBL_C, DIRECTORY, NOW, ORG, OTHER_ORG, TODAY, rule

NEW_ANY = {"type": "new_violation"}


def new_at(bbl: str, source_id: str = "1") -> ViolationChange:
    return ViolationChange("HPD", source_id, bbl, "open", violation_class="B")


SCOPE_CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("organization: every building in the org's portfolios", {"type": "organization"}, {BBL_A, BBL_B}),
    ("one portfolio", {"type": "portfolio", "portfolio_ids": [2]}, {BBL_B}),
    ("another org's portfolio is invisible", {"type": "portfolio", "portfolio_ids": [3]}, set()),
    ("single buildings, watched or not", {"type": "buildings", "bbls": [BBL_C]}, {BBL_C}),
]


@pytest.mark.parametrize(("case", "scope", "fired_at"), SCOPE_CASES)
def test_scope_decides_which_buildings_fire(case: str, scope: dict[str, Any], fired_at: set[str]) -> None:
    events = [new_at(BBL_A, "1"), new_at(BBL_B, "2"), new_at(BBL_C, "3")]
    assert {c.bbl for c in evaluate(rule(NEW_ANY, scope), events, NOW, DIRECTORY)} == fired_at, case


def test_invalid_bbl_in_scope_is_rejected() -> None:
    with pytest.raises(ValueError, match="bbls"):
        rule(NEW_ANY, {"type": "buildings", "bbls": ["123"]})


def test_disabled_rules_never_fire() -> None:
    assert evaluate(rule(NEW_ANY, enabled=False), [new_at(BBL_A)], NOW, DIRECTORY) == []


def test_candidates_carry_rule_org_and_building() -> None:
    (c,) = evaluate(rule(NEW_ANY, id=42), [new_at(BBL_A)], NOW, DIRECTORY)
    assert (c.rule_id, c.org_id, c.bbl) == (42, ORG, BBL_A)
    assert c.payload["rule"] == {"id": 42, "name": "test rule", "condition": "new_violation"}


def test_re_evaluating_the_same_events_produces_the_same_keys() -> None:
    rules = [
        rule(NEW_ANY, id=1),
        rule({"type": "deadline_approaching", "within_days": 30}, id=2),
        rule({"type": "risk_score", "crosses_above": 50, "jumps_by": 5}, id=3),
    ]
    events: list[Event] = [
        new_at(BBL_A, "10"),
        OpenViolation("HPD", "11", BBL_B, certify_by_date=TODAY + timedelta(days=9)),
        ScoreChange(BBL_A, "overall", 70, TODAY, 40),
    ]
    index = RuleIndex(rules, DIRECTORY)
    first = [(c.rule_id, c.bbl, c.trigger_key) for c in index.evaluate(events, NOW)]
    # A later scan of the same facts (hours later, another process) must hit the same unique keys.
    again = [
        (c.rule_id, c.bbl, c.trigger_key)
        for c in RuleIndex(rules, DIRECTORY).evaluate(events, NOW + timedelta(hours=5))
    ]
    assert first == again
    assert len(first) == 4


def test_duplicate_events_in_one_batch_yield_one_candidate() -> None:
    assert len(evaluate(rule(NEW_ANY), [new_at(BBL_A), new_at(BBL_A)], NOW, DIRECTORY)) == 1


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        evaluate(rule(NEW_ANY), [], NOW.replace(tzinfo=None), DIRECTORY)


def random_world(seed: int) -> tuple[list[AlertRule], PortfolioDirectory, list[Event]]:
    rng = random.Random(seed)
    bbls = [f"1{n:09d}" for n in range(40)]
    directory = PortfolioDirectory.from_rows((pid, pid % 3, bbl) for pid in range(6) for bbl in rng.sample(bbls, 8))
    conditions: list[dict[str, Any]] = [
        {"type": "new_violation", "classes": ["C"]},
        {"type": "new_complaint", "complaint_types": ["heat"]},
        {"type": "violation_status_change"},
        {"type": "deadline_approaching", "within_days": 5},
    ]
    scopes: list[dict[str, Any]] = [
        {"type": "organization"},
        {"type": "portfolio", "portfolio_ids": [rng.randrange(6)]},
        {"type": "buildings", "bbls": rng.sample(bbls, 3)},
    ]
    rules = [
        AlertRule(id=i, org_id=i % 3, name=f"r{i}", condition=rng.choice(conditions), scope=rng.choice(scopes))
        for i in range(30)
    ]
    events: list[Event] = []
    for i in range(300):
        bbl = rng.choice(bbls)
        kind = i % 4
        if kind == 0:
            events.append(ViolationChange("HPD", str(i), bbl, "open", violation_class=rng.choice("ABC")))
        elif kind == 1:
            events.append(ComplaintChange("HPD", str(i), bbl, "open", category=rng.choice(["HEAT/HOT WATER", "PAINT"])))
        elif kind == 2:
            events.append(ViolationChange("HPD", str(i), bbl, "closed", old_status="open"))
        else:
            events.append(OpenViolation("HPD", str(i), bbl, certify_by_date=TODAY + timedelta(days=rng.randrange(10))))
    return rules, directory, events


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_index_finds_exactly_what_rule_by_rule_evaluation_finds(seed: int) -> None:
    rules, directory, events = random_world(seed)
    together = {(c.rule_id, c.bbl, c.trigger_key) for c in RuleIndex(rules, directory).evaluate(events, NOW)}
    one_by_one = {(c.rule_id, c.bbl, c.trigger_key) for r in rules for c in evaluate(r, events, NOW, directory)}
    assert together == one_by_one
    assert together  # the world is built so that something fires


def test_dry_run_counts_distinct_alerts_over_daily_scans() -> None:
    r = rule({"type": "deadline_approaching", "within_days": 7})
    violation = OpenViolation("HPD", "9", BBL_A, certify_by_date=TODAY + timedelta(days=10))
    other = OpenViolation("HPD", "10", BBL_B, hearing_date=TODAY + timedelta(days=20))
    # Thirty daily scans see the same open violations; each deadline is one alert, not one per scan.
    batches = [(NOW + timedelta(days=d), [violation, other]) for d in range(30)]
    result = dry_run(r, batches, DIRECTORY)
    assert result.fired == 2
    assert [c.trigger_key for c in result.samples] == [
        f"deadline:HPD:9:certify_by:{TODAY + timedelta(days=10)}",
        f"deadline:HPD:10:hearing:{TODAY + timedelta(days=20)}",
    ]


def test_other_orgs_buildings_do_not_leak_into_org_scope() -> None:
    r = rule(NEW_ANY, org_id=OTHER_ORG)
    assert {c.bbl for c in evaluate(r, [new_at(BBL_A), new_at(BBL_C, "2")], NOW, DIRECTORY)} == {BBL_C}


def test_rules_with_equal_conditions_each_fire_and_count_days_by_the_citys_calendar() -> None:
    # 15:00 UTC on 2026-03-02 is already 2026-03-03 in Tokyo, but a certify-by date of 03-02 is a New York date:
    # it is due today for every rule, the Tokyo organization's included.
    due_today = {"type": "deadline_approaching", "within_days": 0}
    rules = [
        rule(due_today, id=1),
        rule(due_today, id=2),
        rule(due_today, id=3, timezone="Asia/Tokyo"),
        rule(due_today, id=4, org_id=OTHER_ORG),
    ]
    events = [
        OpenViolation("HPD", "1", BBL_A, certify_by_date=TODAY),
        OpenViolation("HPD", "2", BBL_C, certify_by_date=TODAY),
    ]
    fired = [(c.rule_id, c.bbl) for c in RuleIndex(rules, DIRECTORY).evaluate(events, NOW)]
    assert fired == [(1, BBL_A), (2, BBL_A), (3, BBL_A), (4, BBL_C)]


def test_rules_of_several_scopes_watching_one_building_fire_in_rule_order() -> None:
    rules = [
        rule(NEW_ANY, {"type": "buildings", "bbls": [BBL_A]}, id=5),
        rule(NEW_ANY, id=2),
        rule(NEW_ANY, {"type": "portfolio", "portfolio_ids": [1]}, id=9),
        rule(NEW_ANY, {"type": "portfolio", "portfolio_ids": [2]}, id=1),
    ]
    index = RuleIndex(rules, DIRECTORY)
    assert [r.id for r in index.rules_for(new_at(BBL_A))] == [5, 2, 9]
    assert [r.id for r in index.rules_for(new_at(BBL_B))] == [2, 1]
