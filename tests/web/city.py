"""The web tests' city: the product's synthetic city (`vsentinel synth`, ending today, ingested through the replay
server and the real normalizers and writer, as the demo's), with two organizations with portfolios, a score
history and alerts. The city brings what the screens show: addresses and coordinates (PLUTO), BINs, violations,
complaints and their deadlines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from citysim.synth.city import write_city
from citysim.synth.config import SynthConfig
from tests.api import seed
from tests.conftest import ingest_city

SEVERITIES = ("immediately_hazardous", "hazardous")
NEW_CLASS_C = {"type": "new_violation", "classes": ["C"]}


@dataclass
class WebCity:
    alpha_portfolio: int
    beta_portfolio: int
    alpha_bbls: list[str]
    beta_bbls: list[str]
    alpha_alert_titles: list[str]
    beta_alert_titles: list[str]


def _portfolio(conn: psycopg.Connection[Any], org_id: int, name: str, bbls: list[str]) -> int:
    row = conn.execute("INSERT INTO portfolios (org_id, name) VALUES (%s, %s) RETURNING id", (org_id, name)).fetchone()
    assert row is not None
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO portfolio_buildings (portfolio_id, bbl) VALUES (%s, %s)", [(row[0], b) for b in bbls]
        )
    return int(row[0])


def _alerts(conn: psycopg.Connection[Any], org_id: int, bbls: list[str], label: str) -> list[str]:
    rule = conn.execute(
        "INSERT INTO alert_rules (org_id, name, condition, scope) VALUES (%s, %s, %s, %s) RETURNING id",
        (org_id, f"{label} class C", Jsonb(NEW_CLASS_C), Jsonb({"type": "organization"})),
    ).fetchone()
    assert rule is not None
    titles = []
    for i, bbl in enumerate(bbls[:4]):
        title = f"{label}: new HPD class C violation #{i + 1}"
        severity = SEVERITIES[i % 2]
        conn.execute(
            "INSERT INTO alerts (rule_id, org_id, bbl, trigger_key, title, payload, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, now() - %s * interval '1 hour')",
            (rule[0], org_id, bbl, f"v{i}", title, Jsonb({"record": {"severity": severity}}), i),
        )
        titles.append(title)
    return titles


def build(database_url: str, out: Path, today: date, buildings: int = 60) -> tuple[WebCity, dict]:
    write_city(SynthConfig(buildings=buildings, start=today - timedelta(days=5 * 365), end=today, seed=7), out)
    ingest_city(database_url, out)
    with psycopg.connect(database_url) as conn:
        return _organizations(conn)


def _organizations(conn: psycopg.Connection[Any]) -> tuple[WebCity, dict]:
    bbls = [r[0] for r in conn.execute("SELECT bbl FROM properties ORDER BY bbl")]
    alpha_id, alpha = seed.add_org(conn, "alpha")
    beta_id, beta = seed.add_org(conn, "beta")
    split = len(bbls) * 3 // 4
    alpha_bbls, beta_bbls = bbls[:split], bbls[split:]
    city = WebCity(
        alpha_portfolio=_portfolio(conn, alpha_id, "Alpha Residential", alpha_bbls),
        beta_portfolio=_portfolio(conn, beta_id, "Beta Holdings", beta_bbls),
        alpha_bbls=alpha_bbls,
        beta_bbls=beta_bbls,
        alpha_alert_titles=_alerts(conn, alpha_id, alpha_bbls, "Alpha"),
        beta_alert_titles=_alerts(conn, beta_id, beta_bbls, "Beta"),
    )
    conn.commit()
    return city, {"alpha": alpha, "beta": beta}


def add_score_history(conn: psycopg.Connection[Any], today: date, months: int = 6) -> None:
    """Earlier monthly scores below today's stored ones (a rising history), so the chart has a line to draw. A month
    rises by more than the trend rule's step (sentinel/risk/trend.py), so today's scores, computed again after this,
    trend up as the chart does."""
    for m in range(1, months + 1):
        conn.execute(
            "INSERT INTO risk_scores (bbl, as_of, overall, safety, legal, financial, p_overall, p_safety, p_legal, "
            "p_financial, trend, reasons, model_versions, computed_at) "
            "SELECT bbl, %s, greatest(overall - 6 * %s, 0), greatest(safety - 3 * %s, 0), greatest(legal - 2 * %s, 0), "
            "greatest(financial - %s, 0), p_overall, p_safety, p_legal, p_financial, 'flat', reasons, model_versions, "
            "computed_at - %s * interval '30 days' FROM risk_scores WHERE as_of = %s ON CONFLICT DO NOTHING",
            (today - timedelta(days=30 * m), m, m, m, m, m, today),
        )
    conn.commit()
