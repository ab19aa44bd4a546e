"""The promotion gate on the product's own city (`vsentinel synth` rows -> replay server -> ingestion, the city of
tests/model/conftest.py) -> training.

A model serves a score only when it beats the weighted open count on the out-of-time test by more than its
bootstrap interval, even with `promote=True` (what `vsentinel train --promote` passes); otherwise the calibrated
count serves it and the API says so. The model here is deliberately weak (two depth-1 trees: at most three distinct
outputs), so it loses to the count by construction, whatever the city's margin is (benchmarks/model_city.py
measures that).
"""

from __future__ import annotations

import itertools
import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest

from deployments.api.app import create_app
from deployments.api.local import local_deps
from deployments.api.settings import ApiSettings
from sentinel.artifact_store import as_store, fetch
from sentinel.risk import artifacts, registry
from tests.api import seed
from tests.api.servers import running
from training import pipeline
from training.config import load_training_settings

pytestmark = pytest.mark.integration
TRAIN_ROWS = 1_500  # fewer than the city's four training cutoffs hold: the fits read a sample of them


@pytest.fixture(scope="module")
def trained(city_url, ray_cluster, tmp_path_factory):
    url, city = city_url
    model_dir = tmp_path_factory.mktemp("models")
    settings = load_training_settings(
        workers=1, num_boost_round=2, report_every=1, max_train_cutoffs=4, eval_folds=1, max_train_rows=TRAIN_ROWS
    )
    settings.default_params = {**settings.default_params, "max_depth": 1}
    with psycopg.connect(url) as conn:
        report = pipeline.run(
            conn,
            settings,
            model_dir,
            tmp_path_factory.mktemp("ray-storage"),
            promote=True,
            ground_truth=city / "ground_truth",
            log=lambda _: None,
        )
    return url, model_dir, report


def test_a_model_that_does_not_beat_the_weighted_count_is_not_promoted_even_when_forced(trained):
    url, _, report = trained
    with psycopg.connect(url) as conn:
        active = registry.active(conn)
    losers = [r.kind for r in report.results if not r.beats_baseline]
    assert losers, "two depth-1 trees should not clear the bootstrap interval over the weighted count"
    for result in report.results:
        gap = result.over_baseline["model"]
        assert gap.low <= gap.estimate <= gap.high
        served = active[result.kind]
        if result.beats_baseline:
            assert (served.scorer, served.version) == ("model", report.version)
        else:
            assert (served.scorer, served.version) == ("baseline", f"{report.version}-baseline")
            assert result.kind in report.baselined and result.kind not in report.promoted
    assert report.scorers == {k: active[k].scorer for k in registry.SCORE_KINDS}
    # The model that lost is still registered (and inspectable), just not serving.
    with psycopg.connect(url) as conn:
        loser = registry.get(conn, losers[0], report.version)
    assert loser.is_active is False and loser.metrics["beats_baseline"] is False


def test_the_fits_read_a_sample_of_the_training_rows_when_there_are_more_than_the_cap(trained):
    _, _, report = trained
    # With one fold every cutoff built is a training one, the calibration's or the test's.
    every = report.rows["all"] - report.rows["calibration"] - report.rows["test"]
    assert 0.9 * TRAIN_ROWS < report.rows["train"] <= TRAIN_ROWS < every


@pytest.fixture(scope="module")
def api(trained, redis_url):
    url, model_dir, _ = trained
    with psycopg.connect(url) as conn:
        _, emails = seed.add_org(conn, "gate")
    deps = local_deps(
        database_url=url,
        redis_url=redis_url,
        jwt_secret=secrets.token_urlsafe(48),
        settings=ApiSettings(redis_prefix=f"vs-test-gate-{Path(url).name}"),
        model_dir=model_dir,
        pool_size=2,
    )
    with running(create_app(deps)) as base, httpx.Client(base_url=base, timeout=60) as c:
        r = c.post("/v1/auth/token", data={"username": emails["viewer"], "password": seed.PASSWORD})
        assert r.status_code == 200, r.text
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield c
    deps.close()


def _busiest(url: str, n: int) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT bbl FROM violations WHERE status = 'open' AND bbl IS NOT NULL GROUP BY bbl "
            "ORDER BY count(*) DESC, bbl LIMIT %s",
            (n,),
        ).fetchall()
    return [r[0].strip() for r in rows]


def test_the_api_names_the_scorer_of_every_score(trained, api):
    url, _, report = trained
    bbl = _busiest(url, 1)[0]
    r = api.get(f"/v1/properties/{bbl}/risk")
    assert r.status_code == 200, r.text
    body = r.json()
    for kind in registry.SCORE_KINDS:
        scorer = body["scorers"][kind]
        assert scorer["scorer"] == report.scorers[kind]
        expected = report.version if scorer["scorer"] == "model" else f"{report.version}-baseline"
        assert scorer["version"] == expected == body["model_version"][kind]


def test_probabilities_are_returned_in_0_1_and_never_fall_as_the_score_rises(trained, api):
    url, _, _ = trained
    bbls = _busiest(url, 150)
    r = api.post("/v1/risk/batch", json={"bbls": bbls})
    assert r.status_code == 200, r.text
    scores = r.json()["scores"]
    assert len(scores) == len(bbls)
    for kind in registry.SCORE_KINDS:
        pairs = sorted((s["scores"][kind], s["probabilities"][kind]) for s in scores)
        assert all(0.0 <= p <= 1.0 for _, p in pairs)
        assert all(a[1] <= b[1] for a, b in itertools.pairwise(pairs))
        assert len({p for _, p in pairs}) > 1  # a real map, not a constant


def test_reasons_are_only_what_pushed_the_score_up_with_the_value_that_explains_it(trained, api):
    url, model_dir, _ = trained
    with psycopg.connect(url) as conn:
        overall = artifacts.load(fetch(registry.active(conn)["overall"].artifact_uri, as_store(model_dir)))
    bbls = _busiest(url, 40)
    scores = api.post("/v1/risk/batch", json={"bbls": bbls}).json()["scores"]
    shown = [reason for s in scores for reason in s["reasons"]]
    assert shown, "the busiest buildings have reasons"
    for reason in shown:
        assert reason["impact"] > 0
        if not isinstance(reason["value"], str):
            assert reason["value"] > overall.typical.get(reason["feature"], 0.0)
        assert "0.0" not in reason["text"] and not reason["text"].startswith("0 ")


def test_model_promote_refuses_a_version_that_lost_to_the_baseline(trained, redis_url):
    url, model_dir, report = trained
    loser = next(r.kind for r in report.results if not r.beats_baseline)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VS_")}
    env.update({"VS_DATABASE_URL": url, "VS_REDIS_URL": redis_url, "VS_MODEL_DIR": str(model_dir), "COLUMNS": "200"})
    command = [sys.executable, "-c", "from cluster.cli_model import model_app; model_app()", "promote"]
    refused = subprocess.run(
        [*command, report.version, "--kind", loser], env=env, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 1
    assert "did not beat the weighted open count" in refused.stderr
    with psycopg.connect(url) as conn:
        assert registry.active(conn)[loser].version == f"{report.version}-baseline"
