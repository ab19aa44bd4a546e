"""Throughput of rule evaluation: 10k rules against 100k changed records (run directly, not by pytest).

.venv/bin/python -m tests.alerts.bench_evaluate
"""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sentinel.alerts import AlertRule, PortfolioDirectory, RuleIndex
from sentinel.alerts.events import ComplaintChange, Event, OpenViolation, ScoreChange, ViolationChange

CONDITIONS = [
    {"type": "new_violation", "sources": ["HPD"], "classes": ["C"]},
    {"type": "new_violation"},
    {"type": "new_violation", "severities": ["hazardous", "immediately_hazardous"]},
    {"type": "violation_status_change"},
    {"type": "new_complaint", "complaint_types": ["HEAT", "HOT WATER"]},
    {"type": "new_complaint"},
    {"type": "deadline_approaching", "within_days": 7},
    {"type": "deadline_overdue"},
    {"type": "risk_score", "crosses_above": 80, "jumps_by": 10},
    {"type": "penalty_balance_above", "amount": "10000"},
]


def bbl(rng: random.Random, city_size: int) -> str:
    n = rng.randrange(city_size)
    return f"{1 + n % 5}{n:09d}"[:10]


def build(
    n_rules: int,
    n_events: int,
    n_orgs: int,
    buildings_per_org: int,
    city_size: int,
    watched_share: float = 0.3,
    seed: int = 7,
):
    rng = random.Random(seed)
    rows = []
    for org in range(n_orgs):
        for _ in range(buildings_per_org):
            rows.append((org, org, bbl(rng, city_size)))
    directory = PortfolioDirectory.from_rows(rows)
    rules = []
    for rule_id in range(n_rules):
        org = rule_id % n_orgs
        scope = (
            {"type": "buildings", "bbls": [bbl(rng, city_size) for _ in range(3)]}
            if rule_id % 4 == 0
            else {"type": "organization"}
        )
        rules.append(
            AlertRule(
                id=rule_id,
                org_id=org,
                name=f"rule {rule_id}",
                condition=CONDITIONS[rule_id % len(CONDITIONS)],
                scope=scope,
            )
        )
    # Changes fall on watched buildings `watched_share` of the time, anywhere in the city otherwise.
    watched = [row[2] for row in rows]
    events: list[Event] = []
    today = date(2026, 3, 2)
    for i in range(n_events):
        where = rng.choice(watched) if rng.random() < watched_share else bbl(rng, city_size)
        roll = i % 10
        if roll < 5:
            events.append(
                ViolationChange(
                    "HPD",
                    str(i),
                    where,
                    "open",
                    None if roll < 4 else "closed",
                    rng.choice("ABC"),
                    description="Repair the broken plaster",
                    certify_by_date=today + timedelta(days=20),
                )
            )
        elif roll < 7:
            events.append(ComplaintChange("HPD", str(i), where, "open", category="HEAT/HOT WATER"))
        elif roll < 9:
            events.append(
                OpenViolation("HPD", str(i), where, "C", certify_by_date=today + timedelta(days=rng.randrange(-10, 30)))
            )
        else:
            events.append(ScoreChange(where, "overall", rng.randrange(101), today, old_score=rng.randrange(101)))
    return rules, directory, events


def run(label: str, **kwargs: float) -> None:
    rules, directory, events = build(**kwargs)  # type: ignore[arg-type]
    now = datetime(2026, 3, 2, 15, tzinfo=UTC)
    t0 = time.perf_counter()
    index = RuleIndex(rules, directory)
    t1 = time.perf_counter()
    candidates = index.evaluate(events, now)
    t2 = time.perf_counter()
    print(
        f"{label}: {index.rule_count} rules, {len(events)} events -> {len(candidates)} candidates; "
        f"index {t1 - t0:.2f}s, evaluate {t2 - t1:.2f}s ({len(events) / (t2 - t1):,.0f} events/s)"
    )


if __name__ == "__main__":
    _ = Decimal  # money conditions parse their amounts from strings
    run("city-wide changes", n_rules=10_000, n_events=100_000, n_orgs=500, buildings_per_org=100, city_size=800_000)
    run("dense portfolios", n_rules=10_000, n_events=100_000, n_orgs=200, buildings_per_org=500, city_size=200_000)
    run(
        "worst case: every change in a watched building",
        n_rules=10_000,
        n_events=100_000,
        n_orgs=200,
        buildings_per_org=500,
        city_size=200_000,
        watched_share=1.0,
    )
