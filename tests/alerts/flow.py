"""The product's path for tests and the benchmark: a replayed HPD dataset, an organization watching one of its
buildings with rules on every kind of change, and the changes the city would publish."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.alerts import seed

HPD = "wvxf-dwi5"
REALDATA = (Path(__file__).parents[2] / ".." / "shared" / "realdata").resolve()
HPD_SAMPLE = REALDATA / "hpd_violations" / "nycdb" / "hpd_violations.csv"


def hpd_sources() -> dict[str, list[Path]]:
    return {HPD: [HPD_SAMPLE]}


def an_open_violation(server_url: str) -> dict[str, Any]:
    rows = httpx.get(
        f"{server_url}/resource/{HPD}.json", params={"$where": "violationstatus='Open'", "$order": ":id", "$limit": 1}
    ).json()
    return rows[0]


def watch(conn: psycopg.Connection, bbl: str, email_to: str, webhook_url: str) -> int:
    """An organization watching `bbl`: new Class C violations by email and webhook, closings and certify-by
    dates within 7 days by webhook."""
    org_id = seed.org(conn)
    seed.portfolio(conn, org_id, [bbl])
    both = [{"kind": "email", "target": email_to}, {"kind": "webhook", "target": webhook_url}]
    hook = [{"kind": "webhook", "target": webhook_url}]
    seed.rule(conn, org_id, {"type": "new_violation", "classes": ["C"]}, both, name="class C")
    seed.rule(conn, org_id, {"type": "violation_status_change", "transitions": ["closed"]}, hook, name="closed")
    seed.rule(conn, org_id, {"type": "deadline_approaching", "deadlines": ["certify_by"]}, hook, name="deadline")
    return org_id


def _soda_day(d: date) -> str:
    return f"{d.isoformat()}T00:00:00.000"


def new_class_c(template: dict[str, Any], violation_id: str, certify_by: date) -> dict[str, Any]:
    row = {k: v for k, v in template.items() if not k.startswith(":")}
    row.update(
        violationid=violation_id,
        novid=str(9_000_000 + int(violation_id) % 1_000_000),
        **{"class": "C"},
        novdescription="SECTION 27-2029 ADM CODE PROVIDE HEAT TO THE ENTIRE BUILDING",
        inspectiondate=_soda_day(certify_by - timedelta(days=30)),
        novissueddate=_soda_day(certify_by - timedelta(days=28)),
        originalcertifybydate=_soda_day(certify_by),
        currentstatus="NOV SENT OUT",
        currentstatusid="19",
        currentstatusdate=_soda_day(certify_by - timedelta(days=28)),
        violationstatus="Open",
    )
    row.pop("newcertifybydate", None)
    row.pop("certifieddate", None)
    return row


def changes(rows: list[dict[str, Any]], at: datetime | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"datasets": {HPD: {"upsert": rows}}}
    if at is not None:
        doc["at"] = at.isoformat()
    return doc
