"""The web app's first-screen JavaScript and how fast its screens become usable, with the API on Ray Serve.

    .venv/bin/python benchmarks/web.py [--buildings 500] [--runs 5]

1. First-screen JavaScript: the gzipped size of the scripts web/dist/index.html loads before anything else (its
   entry module and the modules it preloads); the screens after sign-in, the chart and the map load later.
2. Portfolio interactive: from pressing "Sign in" to the portfolio of `--buildings` buildings showing its table
   (the first 100 rows, sorted and filtered over all of them, "Show all" for the rest) with the scores, the totals,
   and the sort buttons enabled (the chart and map keep loading after).
3. Property page: from clicking a building in the table to its facts, scores with reasons and timeline shown.

Each run uses a fresh browser context (an empty cache), in Debian's headless Chromium, against the Ray Serve
gateway over a scratch database holding the web tests' city (tests/web/city.py: `vsentinel synth` ingested through
the replay server); scores are stored before the runs (the tests' counting model: this measures the app and the
API, not the model). Needs PostgreSQL and Redis locally.
"""

from __future__ import annotations

import argparse
import gzip
import platform
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.serve import ADMIN_PG, start_serve, stop_serve  # noqa: E402
from tests.conftest import create_database, database_url_for, drop_database, free_port  # noqa: E402
from tests.web import city as web_city  # noqa: E402
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

DIST = REPO / "web" / "dist"


def first_screen_js() -> tuple[int, int, list[str]]:
    """(raw bytes, gzipped bytes, files) of the scripts index.html loads up front."""
    index = (DIST / "index.html").read_text(encoding="utf-8")
    files = re.findall(r'<script[^>]+src="/([^"]+\.js)"', index) + re.findall(
        r'<link[^>]+rel="modulepreload"[^>]+href="/([^"]+\.js)"', index
    )
    raw = [(DIST / f).read_bytes() for f in files]
    return sum(map(len, raw)), sum(len(gzip.compress(b, 9)) for b in raw), files


def seed(database_url: str, buildings: int) -> tuple[str, str]:
    city, emails = web_city.build(
        database_url, Path(tempfile.mkdtemp()), date.today(), buildings=buildings * 4 // 3 + 1
    )
    assert len(city.alpha_bbls) >= buildings
    return emails["alpha"]["manager"], city.alpha_bbls


def timed_runs(url: str, email: str, runs: int) -> tuple[list[float], list[float], int]:
    from playwright.sync_api import sync_playwright

    portfolio, property_page = [], []
    rows = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(runs):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(30_000)
            page = context.new_page()
            page.goto(url)
            page.get_by_label("Email").fill(email)
            page.get_by_label("Password").fill(web_city.seed.PASSWORD)
            started = time.perf_counter()
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_function(
                "() => document.querySelectorAll('table.buildings tbody tr').length > 0"
                " && document.querySelector('[data-testid=total-open]') !== null"
                " && !document.querySelector('button.sort')?.disabled",
                polling="raf",
            )
            portfolio.append(time.perf_counter() - started)
            rows = int(page.get_by_test_id("total-buildings").inner_text().replace(",", ""))
            link = page.locator("table.buildings tbody tr").nth(3).get_by_role("link")
            started = time.perf_counter()
            link.click()
            page.wait_for_function(
                "() => document.querySelector('#facts-title') && document.querySelector('[data-testid=reasons] li')"
                " && document.querySelector('[data-testid=timeline] li')",
                polling="raf",
            )
            property_page.append(time.perf_counter() - started)
            context.close()
        browser.close()
    return portfolio, property_page, rows


def run(args: argparse.Namespace) -> list[str]:
    raw, gz, files = first_screen_js()
    name = create_database(ADMIN_PG, prefix="vs_bench_web")
    database_url = database_url_for(ADMIN_PG, name)
    try:
        from sentinel.db import migrate

        migrate.upgrade(database_url)
        email, bbls = seed(database_url, args.buildings)
        port = free_port()
        start_serve(database_url, port, secrets.token_urlsafe(48), "haproxy")
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=120) as client:
            token = client.post("/v1/auth/token", data={"username": email, "password": web_city.seed.PASSWORD})
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            client.post("/v1/risk/batch", json={"bbls": bbls}, headers=headers).raise_for_status()
        portfolio, property_page, rows = timed_runs(url, email, args.runs)
    finally:
        stop_serve()
        drop_database(ADMIN_PG, name)
    ms = lambda xs: ", ".join(f"{x * 1000:.0f}" for x in xs)  # noqa: E731
    return [
        f"- first-screen JavaScript: {gz / 1024:.1f} KB gzipped ({raw / 1024:.1f} KB raw) in {len(files)} file(s)",
        f"- portfolio of {rows} buildings interactive after sign-in:"
        f" median {statistics.median(portfolio) * 1000:.0f} ms,"
        f" max {max(portfolio) * 1000:.0f} ms (runs: {ms(portfolio)})",
        f"- property page shown after a click: median {statistics.median(property_page) * 1000:.0f} ms,"
        f" max {max(property_page) * 1000:.0f} ms (runs: {ms(property_page)})",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buildings", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    lines = run(args)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO).stdout
    print(f"\n{platform.node()} · {platform.processor() or platform.machine()} · commit {commit.strip()}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
