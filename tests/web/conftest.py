"""The real stack for the browser tests: the gateway app (uvicorn engine, the same `create_app` the Ray Gateway
serves) over its own PostgreSQL database holding a synthetic city, the session's Redis, and Debian's Chromium
driven by Playwright. No step downloads a browser: Playwright launches /usr/bin/chromium.

The risk scores come from a model trained on that city by the product's own pipeline (Ray Train XGBoost, a small
configuration so it takes seconds), behind the promotion gate: a score whose model does not beat the weighted open
count is served by the calibrated count, as it would be for a user, and the screens show whichever scorer serves.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import psycopg
import pytest

from deployments.api.app import create_app
from deployments.api.local import local_deps
from deployments.api.settings import ApiSettings
from tests.api import seed
from tests.api.conftest import JWT_SECRET, REDIS_PREFIX
from tests.api.servers import running
from tests.conftest import REPO_ROOT, drop_database, migrated_database
from tests.web import city as web_city
from training import pipeline
from training.config import load_training_settings

CHROMIUM = os.environ.get("VS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
WEB_DIST = REPO_ROOT / "web" / "dist"
AXE = REPO_ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = REPO_ROOT / "var" / "artifacts" / "web"


@dataclass
class Stack:
    url: str
    database_url: str
    city: web_city.WebCity
    emails: dict[str, dict[str, str]]
    password: str = seed.PASSWORD


@pytest.fixture(scope="session")
def web_stack(
    pg_admin_url: str, redis_url: str, ray_cluster: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    if not (WEB_DIST / "index.html").is_file():
        pytest.fail("web/dist is not built: run `make install` (needs Node 20 and npm)")
    name, _, url = migrated_database(pg_admin_url, prefix="vs_web")
    today = date.today()
    model_dir = tmp_path_factory.mktemp("web-models")
    city, emails = web_city.build(url, tmp_path_factory.mktemp("web-city"), today)
    with psycopg.connect(url) as conn:
        _train(conn, model_dir, tmp_path_factory.mktemp("web-ray-storage"))
    deps = local_deps(
        database_url=url,
        redis_url=redis_url,
        jwt_secret=JWT_SECRET,
        settings=ApiSettings(redis_prefix=f"{REDIS_PREFIX}-web"),
        model_dir=model_dir,
        pool_size=4,
    )
    try:
        with running(create_app(deps)) as base:
            _score_everything(base, emails["alpha"]["admin"], city.alpha_bbls + city.beta_bbls)
            with psycopg.connect(url) as conn:
                web_city.add_score_history(conn, today)
            # Today's scores again: their trend is read from the history just added (scored before it, every
            # building had none and trended by its records alone).
            deps.scorer.service.compute(city.alpha_bbls + city.beta_bbls)
            yield Stack(base, url, city, emails)
    finally:
        deps.close()
        drop_database(pg_admin_url, name)


def _train(conn: psycopg.Connection, model_dir: Path, storage: Path) -> None:
    settings = load_training_settings(workers=1, num_boost_round=20, report_every=10, max_train_cutoffs=4, eval_folds=1)
    report = pipeline.run(conn, settings, model_dir, storage, promote=True, log=lambda _: None)
    assert set(report.scorers) == {"overall", "safety", "legal", "financial"}, report.scorers


def _score_everything(base: str, email: str, bbls: list[str]) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        token = client.post("/v1/auth/token", data={"username": email, "password": seed.PASSWORD}).json()
        r = client.post(
            "/v1/risk/batch", json={"bbls": bbls}, headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        assert r.status_code == 200, r.text
        assert not r.json()["not_found"]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS
