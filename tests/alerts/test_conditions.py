"""Each condition type, table-driven: which events fire it, with which trigger key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from sentinel.alerts import evaluate
from sentinel.alerts.events import (
    BuildingBalance,
    ComplaintChange,
    DatasetFreshness,
    Event,
    OpenViolation,
    ScoreChange,
    ViolationChange,
)
from tests.alerts.factories import BBL_A, DIRECTORY, NOW, TODAY, rule


def keys_for(condition: dict[str, Any], *events: Event) -> list[str]:
    return [c.trigger_key for c in evaluate(rule(condition), events, NOW, DIRECTORY)]


def hpd(source_id: str = "12345", **kw: Any) -> ViolationChange:
    fields: dict[str, Any] = {"new_status": "open", "violation_class": "C", "severity": "immediately_hazardous"}
    fields.update(kw)
    return ViolationChange("HPD", source_id, BBL_A, **fields)


NEW_VIOLATION_CASES = [
    ("any new violation fires", {}, hpd(), ["violation:HPD:12345:new"]),
    ("class filter matches", {"classes": ["c"]}, hpd(), ["violation:HPD:12345:new"]),
    ("class filter rejects", {"classes": ["A", "B"]}, hpd(), []),
    ("source filter rejects", {"sources": ["DOB"]}, hpd(), []),
    ("severity filter matches", {"severities": ["immediately_hazardous"]}, hpd(), ["violation:HPD:12345:new"]),
    ("severity filter rejects", {"severities": ["non_hazardous"]}, hpd(), []),
    ("category substring", {"categories": ["heat"]}, hpd(category="HEAT/HOT WATER"), ["violation:HPD:12345:new"]),
    ("category searched in description", {"categories": ["mold"]}, hpd(description="Mold in bathroom"),
     ["violation:HPD:12345:new"]),
    ("category rejects", {"categories": ["elevator"]}, hpd(category="PLUMBING"), []),
    ("an update of a known violation is not new", {}, hpd(old_status="open"), []),
    ("a record first seen already closed is not news", {}, hpd(new_status="closed"), []),
]  # fmt: skip


@pytest.mark.parametrize(("case", "condition", "event", "expected"), NEW_VIOLATION_CASES)
def test_new_violation(case: str, condition: dict[str, Any], event: Event, expected: list[str]) -> None:
    assert keys_for({"type": "new_violation", **condition}, event) == expected, case


def test_new_violation_summary_reads_like_the_notice() -> None:
    (candidate,) = evaluate(
        rule({"type": "new_violation"}),
        [hpd(description="Provide heat", certify_by_date=TODAY + timedelta(days=1), address="1 MAIN ST")],
        NOW,
        DIRECTORY,
    )
    assert candidate.title == "New HPD Class C violation at 1 MAIN ST (BBL 1000010001)"
    assert candidate.payload["summary"] == "New HPD Class C violation: Provide heat, certify by 2026-03-03"
    assert candidate.payload["record"]["certify_by_date"] == "2026-03-03"
    assert candidate.payload["event_type"] == "violation.new"


D1, D2 = TODAY - timedelta(days=10), TODAY - timedelta(days=3)
STATUS_CASES = [
    ("closed", {}, hpd(old_status="open", new_status="closed", status_date=D2),
     ["violation:HPD:12345:closed:" + str(D2)]),
    ("reopened", {}, hpd(old_status="closed", new_status="open", status_date=D2),
     ["violation:HPD:12345:reopened:" + str(D2)]),
    ("reopened without a date uses the observation date", {},
     hpd(old_status="closed", new_status="open", observed_at=datetime(2026, 3, 1, 12, tzinfo=UTC)),
     ["violation:HPD:12345:reopened:2026-03-01"]),
    ("certified late", {}, hpd(old_status="open", certify_by_date=D1, certified_date=D2),
     ["violation:HPD:12345:certified_late:" + str(D2)]),
    ("certified on time", {}, hpd(old_status="open", certify_by_date=D2, certified_date=D1), []),
    ("an already known late certification does not fire again", {},
     hpd(old_status="open", certify_by_date=D1, certified_date=D2, old_certified_date=D2), []),
    ("closed and late in one change", {},
     hpd(old_status="open", new_status="closed", status_date=D2, certify_by_date=D1, certified_date=D2),
     ["violation:HPD:12345:closed:" + str(D2), "violation:HPD:12345:certified_late:" + str(D2)]),
    ("transition filter", {"transitions": ["reopened"]}, hpd(old_status="open", new_status="closed"), []),
    ("no status change", {}, hpd(old_status="open", new_status="open"), []),
    ("new violations are another condition", {}, hpd(), []),
]  # fmt: skip


@pytest.mark.parametrize(("case", "condition", "event", "expected"), STATUS_CASES)
def test_violation_status_change(case: str, condition: dict[str, Any], event: Event, expected: list[str]) -> None:
    assert keys_for({"type": "violation_status_change", **condition}, event) == expected, case


def open_v(**kw: Any) -> OpenViolation:
    fields: dict[str, Any] = {"violation_class": "C"}
    fields.update(kw)
    return OpenViolation("HPD", "9", BBL_A, **fields)


IN = lambda days: TODAY + timedelta(days=days)  # noqa: E731
DEADLINE_CASES = [
    ("certify-by in 3 days", {"within_days": 7}, open_v(certify_by_date=IN(3)), [f"deadline:HPD:9:certify_by:{IN(3)}"]),
    ("due today", {"within_days": 0}, open_v(certify_by_date=IN(0)), [f"deadline:HPD:9:certify_by:{IN(0)}"]),
    ("too far away", {"within_days": 7}, open_v(certify_by_date=IN(8)), []),
    ("already past is overdue, not approaching", {"within_days": 7}, open_v(certify_by_date=IN(-1)), []),
    ("hearing", {"deadlines": ["hearing"]}, open_v(hearing_date=IN(2)), [f"deadline:HPD:9:hearing:{IN(2)}"]),
    ("deadline kind filter", {"deadlines": ["hearing"]}, open_v(certify_by_date=IN(2)), []),
    ("certified: nothing left to certify", {}, open_v(certify_by_date=IN(2), certified_date=IN(-1)), []),
    ("two deadlines, two alerts", {}, open_v(certify_by_date=IN(1), hearing_date=IN(5)),
     [f"deadline:HPD:9:certify_by:{IN(1)}", f"deadline:HPD:9:hearing:{IN(5)}"]),
    ("class filter applies", {"classes": ["A"]}, open_v(certify_by_date=IN(1)), []),
]  # fmt: skip


@pytest.mark.parametrize(("case", "condition", "event", "expected"), DEADLINE_CASES)
def test_deadline_approaching(case: str, condition: dict[str, Any], event: Event, expected: list[str]) -> None:
    assert keys_for({"type": "deadline_approaching", **condition}, event) == expected, case


OVERDUE_CASES = [
    ("a day late", {}, open_v(certify_by_date=IN(-1)), [f"overdue:HPD:9:certify_by:{IN(-1)}"]),
    ("due today is not late", {}, open_v(certify_by_date=IN(0)), []),
    ("within grace", {"grace_days": 3}, open_v(correct_by_date=IN(-3)), []),
    ("past grace", {"grace_days": 3}, open_v(correct_by_date=IN(-4)), [f"overdue:HPD:9:correct_by:{IN(-4)}"]),
    ("certified late but certified", {}, open_v(certify_by_date=IN(-5), certified_date=IN(-1)), []),
    ("a past hearing is not overdue", {}, open_v(hearing_date=IN(-5)), []),
]  # fmt: skip


@pytest.mark.parametrize(("case", "condition", "event", "expected"), OVERDUE_CASES)
def test_deadline_overdue(case: str, condition: dict[str, Any], event: Event, expected: list[str]) -> None:
    assert keys_for({"type": "deadline_overdue", **condition}, event) == expected, case


def test_today_is_the_citys_date_whatever_the_organizations_zone() -> None:
    # 03:00 UTC on 3 March is still 2 March (22:00) in New York: a certify-by of 3 March is "in 1 day" for
    # everyone, an organization in UTC included (a city deadline passes at the city's midnight).
    late_evening = datetime(2026, 3, 3, 3, 0, tzinfo=UTC)
    event = open_v(certify_by_date=IN(1))
    for timezone in ("America/New_York", "UTC", "Asia/Tokyo"):
        condition = {"type": "deadline_approaching", "within_days": 0}
        assert evaluate(rule(condition, timezone=timezone), [event], late_evening, DIRECTORY) == [], timezone
        (hit,) = evaluate(rule({**condition, "within_days": 1}, timezone=timezone), [event], late_evening, DIRECTORY)
        assert "in 1 day" in hit.title, timezone


def complaint(**kw: Any) -> ComplaintChange:
    fields: dict[str, Any] = {"new_status": "open", "category": "HEAT/HOT WATER", "subcategory": "ENTIRE BUILDING"}
    fields.update(kw)
    return ComplaintChange("HPD", "555", BBL_A, **fields)


COMPLAINT_CASES = [
    ("heat complaint", {"complaint_types": ["heat"]}, complaint(), ["complaint:HPD:555:new"]),
    ("pre-2014 spelling", {"complaint_types": ["heat"]}, complaint(category="HEATING"), ["complaint:HPD:555:new"]),
    ("type matched on subcategory", {"complaint_types": ["no hot water"]},
     complaint(category="PLUMBING", subcategory="NO HOT WATER"), ["complaint:HPD:555:new"]),
    ("other type", {"complaint_types": ["elevator"]}, complaint(), []),
    ("source filter", {"sources": ["311"]}, complaint(), []),
    ("status update is not new", {}, complaint(old_status="open", new_status="closed"), []),
]  # fmt: skip


@pytest.mark.parametrize(("case", "condition", "event", "expected"), COMPLAINT_CASES)
def test_new_complaint(case: str, condition: dict[str, Any], event: Event, expected: list[str]) -> None:
    assert keys_for({"type": "new_complaint", **condition}, event) == expected, case


def balance(now: str, before: str | None) -> BuildingBalance:
    return BuildingBalance(BBL_A, Decimal(now), TODAY, None if before is None else Decimal(before))


BALANCE_CASES = [
    ("crosses upward", balance("12000", "9000"), [f"balance:{BBL_A}:above:10000:{TODAY}"]),
    ("first scan already above", balance("12000", None), [f"balance:{BBL_A}:above:10000:{TODAY}"]),
    ("stays above: one alert, not one per scan", balance("13000", "12000"), []),
    ("exactly the amount is not above", balance("10000", "0"), []),
    ("below", balance("500", None), []),
]


@pytest.mark.parametrize(("case", "event", "expected"), BALANCE_CASES)
def test_penalty_balance_above(case: str, event: Event, expected: list[str]) -> None:
    assert keys_for({"type": "penalty_balance_above", "amount": "10000.00"}, event) == expected, case


def score(new: int, old: int | None, kind: str = "overall") -> ScoreChange:
    return ScoreChange(BBL_A, kind, new, TODAY, old)  # type: ignore[arg-type]


RISK_CASES = [
    ("crosses", {"crosses_above": 80}, score(82, 75), [f"risk:{BBL_A}:overall:above:80:{TODAY}"]),
    ("lands exactly on the threshold", {"crosses_above": 80}, score(80, 79),
     [f"risk:{BBL_A}:overall:above:80:{TODAY}"]),
    ("already above", {"crosses_above": 80}, score(90, 85), []),
    ("first score above", {"crosses_above": 80}, score(90, None), [f"risk:{BBL_A}:overall:above:80:{TODAY}"]),
    ("falls", {"crosses_above": 80}, score(70, 85), []),
    ("jump", {"jumps_by": 10}, score(60, 48), [f"risk:{BBL_A}:overall:jump:{TODAY}"]),
    ("small jump", {"jumps_by": 10}, score(55, 48), []),
    ("no previous score, no jump", {"jumps_by": 10}, score(60, None), []),
    ("both at once", {"crosses_above": 50, "jumps_by": 10}, score(60, 48),
     [f"risk:{BBL_A}:overall:above:50:{TODAY}", f"risk:{BBL_A}:overall:jump:{TODAY}"]),
    ("other score kind", {"jumps_by": 10}, score(60, 40, kind="safety"), []),
]  # fmt: skip


@pytest.mark.parametrize(("case", "condition", "event", "expected"), RISK_CASES)
def test_risk_score(case: str, condition: dict[str, Any], event: Event, expected: list[str]) -> None:
    assert keys_for({"type": "risk_score", **condition}, event) == expected, case


def test_risk_rule_needs_a_trigger() -> None:
    with pytest.raises(ValidationError, match="crosses_above"):
        rule({"type": "risk_score"})


DAY = timedelta(days=1)
STALE_CASES = [
    ("fresh", {}, DatasetFreshness("hpd_violations", NOW - timedelta(hours=20), DAY), []),
    ("late but within grace", {"grace_hours": 6},
     DatasetFreshness("hpd_violations", NOW - timedelta(hours=29), DAY), []),
    ("stale", {"grace_hours": 6}, DatasetFreshness("hpd_violations", datetime(2026, 3, 1, 1, tzinfo=UTC), DAY),
     ["stale:hpd_violations:2026-03-01T01:00:00Z"]),
    ("dataset filter", {"datasets": ["dob_violations"]},
     DatasetFreshness("hpd_violations", NOW - timedelta(days=5), DAY), []),
]  # fmt: skip


@pytest.mark.parametrize(("case", "condition", "event", "expected"), STALE_CASES)
def test_source_stale(case: str, condition: dict[str, Any], event: Event, expected: list[str]) -> None:
    assert keys_for({"type": "source_stale", **condition}, event) == expected, case


def test_stale_alerts_are_filed_under_the_org_wide_pseudo_bbl() -> None:
    (candidate,) = evaluate(
        rule({"type": "source_stale"}, {"type": "buildings", "bbls": [BBL_A]}),
        [DatasetFreshness("hpd_violations", NOW - timedelta(days=3), DAY)],
        NOW,
    )
    assert candidate.bbl == "0000000000"
    assert candidate.payload["location"] is None


def test_condition_json_round_trips() -> None:
    r = rule({"type": "new_violation", "sources": ["hpd"], "classes": ["c"], "severities": ["hazardous"]})
    again = type(r).model_validate_json(r.model_dump_json())
    assert again == r
    assert r.condition.model_dump(mode="json")["sources"] == ["HPD"]


def test_unknown_condition_type_is_rejected() -> None:
    with pytest.raises(ValidationError):
        rule({"type": "moon_phase"})
