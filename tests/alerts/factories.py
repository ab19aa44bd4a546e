"""Small explicit builders for rule tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sentinel.alerts import AlertRule, PortfolioDirectory

BBL_A = "1000010001"
BBL_B = "2000020002"
BBL_C = "3000030003"  # watched by nobody
ORG = 7
OTHER_ORG = 8

# 15:00 UTC = 10:00 in New York (EST) on 2026-03-02
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)

DIRECTORY = PortfolioDirectory.from_rows(
    [
        (1, ORG, BBL_A),
        (2, ORG, BBL_B),
        (3, OTHER_ORG, BBL_C),
    ]
)


def rule(condition: dict[str, Any], scope: dict[str, Any] | None = None, **fields: Any) -> AlertRule:
    data: dict[str, Any] = {
        "id": 1,
        "org_id": ORG,
        "name": "test rule",
        "condition": condition,
        "scope": scope or {"type": "organization"},
    }
    data.update(fields)
    return AlertRule.model_validate(data)
