"""Every `curl` example of the README answers on the demo city: the city `vsentinel demo` builds (300 buildings,
seed 7, ending on the day it runs; checked for today and a year from now), its demo organization and login,
served by the API. The risk routes score through the API tests' counting model (no model is trained here)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from citysim.replay.server import serve_in_background
from cluster.demo import DEMO_LOGIN, demo_organization, prepare_city
from deployments.api.app import create_app
from sentinel.alerts.engine import evaluate_run, evaluate_time_based
from sentinel.deadlines import city_today
from sentinel.ingest.run import RunOptions, run_serial
from sentinel.ingest.socrata import SocrataSource
from tests.api.conftest import make_deps
from tests.api.servers import running
from tests.conftest import drop_database, migrated_database

README = Path(__file__).parents[2] / "README.md"
TODAY = city_today(datetime.now(UTC))


@dataclass(frozen=True)
class Example:
    line: str
    method: str
    path: str
    body: Any
    api_key: bool


def readme_examples() -> list[Example]:
    """The README's one-line `curl ... $API/v1/...` examples inside ```bash blocks."""
    examples = []
    in_bash = False
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            in_bash = line.strip() == "```bash"
            continue
        if not (in_bash and line.startswith("curl ") and "$API/v1/" in line) or "/v1/auth/token" in line:
            continue
        path = re.search(r'\$API(/v1/[^"\s]+)', line)
        body = re.search(r"-d '(\{.*\})'", line)
        assert path, line
        examples.append(
            Example(
                line=line,
                method="POST" if "-X POST" in line else "GET",
                path=path.group(1),
                body=json.loads(body.group(1)) if body else None,
                api_key="X-API-Key" in line,
            )
        )
    return examples


@pytest.fixture(scope="module", params=[TODAY, TODAY + timedelta(days=365)], ids=["today", "a-year-on"])
def demo_api(
    request: pytest.FixtureRequest, pg_admin_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    day: date = request.param
    name, _, url = migrated_database(pg_admin_url, prefix="vs_readme")
    city = prepare_city(tmp_path_factory.mktemp("demo"), 300, 7, day, print)  # `vsentinel demo`'s defaults
    with serve_in_background(city.path) as replay:
        options = RunOptions(datasets=["pluto", "hpd_violations"], incremental=False)
        run_id, _ = run_serial(url, SocrataSource(replay.url), options)
    demo_organization(url)
    with psycopg.connect(url, autocommit=True) as conn:
        evaluate_run(conn, run_id)
        evaluate_time_based(conn)
    deps = make_deps(url, redis_url)
    try:
        with running(create_app(deps)) as api:
            yield api
    finally:
        deps.close()
        drop_database(pg_admin_url, name)


def _non_empty(example: Example, body: Any) -> bool:
    """What "answers" means for each kind of example: the data it asks for is there."""
    path = example.path.split("?")[0]
    if path == "/v1/properties":
        return bool(body["results"])
    if re.fullmatch(r"/v1/properties/\d{10}", path):
        return body["open_violations"]["total"] > 0 and bool(body["deadlines"]["upcoming"])
    if path == "/v1/violations":
        return bool(body["items"])
    if path == "/v1/risk/batch":
        return len(body["results"] if "results" in body else body["scores"]) == len(example.body["bbls"])
    if path == "/v1/alerts" and "baseline=true" in example.path:
        return bool(body["items"])  # the first load's open Class C violations, already open when watching began
    if path == "/v1/alert-rules" and example.method == "GET":
        return len(body) >= 2
    return True


def test_the_readme_has_examples_naming_demo_buildings() -> None:
    examples = readme_examples()
    assert len(examples) >= 10
    assert any("/v1/properties/5038540005" in e.path for e in examples)
    assert any("q=" in e.path for e in examples)


def test_every_readme_example_answers_on_the_demo_city(demo_api: str) -> None:
    with httpx.Client(base_url=demo_api, timeout=60) as client:
        login = client.post("/v1/auth/token", data={"username": DEMO_LOGIN[0], "password": DEMO_LOGIN[1]})
        assert login.status_code == 200, login.text
        bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
        api_key: str | None = None
        for example in readme_examples():
            headers = bearer
            if example.api_key:
                assert api_key, "the README creates its API key before it uses one"
                headers = {"X-API-Key": api_key}
            response = client.request(example.method, example.path, headers=headers, json=example.body)
            assert response.status_code in (200, 201), (example.line, response.status_code, response.text[:500])
            body = response.json()
            if example.path == "/v1/auth/api-keys":
                api_key = body["key"]
            assert _non_empty(example, body), (example.line, json.dumps(body)[:800])
