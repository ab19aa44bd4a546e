"""A small synthetic city trains end to end on Ray (sweep, fits, evaluation, registry) and every building is scored."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import psycopg
import pytest

from sentinel.risk import registry, scoring
from tests.model.conftest import CITY_END
from training import pipeline
from training.config import load_training_settings

pytestmark = pytest.mark.integration

BUILDINGS = 400


@pytest.fixture(scope="module")
def trained(city_url, ray_cluster, tmp_path_factory):
    url, city = city_url
    model_dir = tmp_path_factory.mktemp("models")
    settings = load_training_settings(
        workers=1, max_concurrent_trials=2, num_boost_round=20, report_every=10, max_train_cutoffs=4, eval_folds=2
    )
    with psycopg.connect(url) as conn:
        report = pipeline.run(
            conn,
            settings,
            model_dir,
            tmp_path_factory.mktemp("ray-storage"),
            tune=True,
            samples=2,
            ground_truth=city / "ground_truth",
            log=lambda _: None,
        )
    return url, model_dir, report


def test_training_registers_and_promotes_one_model_per_score(trained):
    url, _, report = trained
    assert sorted(report.promoted) == sorted(registry.SCORE_KINDS)
    assert report.sweep["trials"] == 2
    with psycopg.connect(url) as conn:
        active = registry.active(conn)
    assert {k: r.version for k, r in active.items()} == dict.fromkeys(registry.SCORE_KINDS, report.version)


def test_the_evaluation_is_saved_as_json_markdown_and_png(trained):
    _, _, report = trained
    evaluation = json.loads((report.directory / "evaluation.json").read_text())
    safety = next(r for r in evaluation["results"] if r["kind"] == "safety")
    assert 0.5 < safety["model"]["roc_auc"] <= 1.0
    assert 0.5 < safety["oracle_auc"] <= 1.0
    assert set(safety["baselines"]) == {"weighted_open_count", "class_c_last_year"}
    assert {f["test_cutoff"] for f in evaluation["folds"]} and len(evaluation["folds"]) == 2
    assert "| safety |" in (report.directory / "report.md").read_text()
    assert (report.directory / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_calibration_never_lowers_the_probability_of_a_riskier_building(trained):
    url, model_dir, _ = trained
    with psycopg.connect(url) as conn:
        models = scoring.load_active_models(conn, model_dir)
    for model in models.models.values():
        assert np.all(np.diff(model.calibrator.y) >= 0)
        assert np.all(np.diff(model.percentiles.quantiles) >= 0)


def _scores(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT bbl, overall, safety, legal, financial, p_overall, trend, reasons, model_versions FROM risk_scores "
        "ORDER BY bbl"
    ).fetchall()


def test_batch_scoring_scores_every_building_once_and_is_idempotent(trained):
    url, model_dir, report = trained
    with psycopg.connect(url) as conn:
        models = scoring.load_active_models(conn, model_dir)
        written = scoring.score_all(conn, models, CITY_END)
        first = _scores(conn)
        again = scoring.score_all(conn, models, CITY_END)
        second = _scores(conn)
    assert written == again == BUILDINGS == len(first)
    assert first == second
    overall = np.array([r[1] for r in first])
    assert overall.min() >= 0 and overall.max() <= 100 and overall.std() > 10
    for row in first:
        assert all(0 <= s <= 100 for s in row[1:5])
        assert row[6] in {"up", "down", "flat"}
        assert row[8] == dict.fromkeys(registry.SCORE_KINDS, report.version)
    riskiest = sorted(first, key=lambda r: -r[1])[:20]
    assert all(1 <= len(r[7]) <= 4 and all(reason["text"] for reason in r[7]) for r in riskiest)
    # Reasons are only what pushed the score up, at a value above the typical building's.
    typical = models.models["overall"].typical
    for reason in (reason for r in first for reason in r[7]):
        assert reason["impact"] > 0
        assert isinstance(reason["value"], str) or reason["value"] > typical.get(reason["feature"], 0.0)
    # Same model, monotone maps: a higher overall score never carries a lower probability.
    by_score = sorted(first, key=lambda r: (r[1], r[5]))
    assert all(a[5] <= b[5] for a, b in itertools.pairwise(by_score))


def test_online_scoring_of_a_few_buildings_matches_the_batch(trained):
    url, model_dir, _ = trained
    with psycopg.connect(url) as conn:
        models = scoring.load_active_models(conn, model_dir)
        scoring.score_all(conn, models, CITY_END)
        batch = {r[0]: r for r in _scores(conn)}
        bbls = sorted(batch)[:3]
        online = scoring.score_buildings(conn, models, [*bbls, "1000000000"], CITY_END)
    assert [r.bbl for r in online] == bbls
    for row in online:
        assert (row.overall, row.safety, row.legal, row.financial) == tuple(batch[row.bbl][1:5])
        assert row.reasons == batch[row.bbl][7]


def test_promoting_an_older_version_swaps_the_active_model_in_one_step(trained):
    url, model_dir, report = trained
    with psycopg.connect(url) as conn:
        older = registry.register(conn, "safety", "older", str(Path(model_dir) / report.version / "safety"), {}, {})
        registry.promote(conn, "safety", "older")
        active = registry.active(conn)
        registry.promote(conn, "safety", report.version)
        count = conn.execute("SELECT count(*) FROM models WHERE is_active AND score_kind = 'safety'").fetchone()[0]
    assert active["safety"].version == older.version
    assert count == 1
    with psycopg.connect(url) as conn, pytest.raises(registry.ModelNotFoundError):
        registry.promote(conn, "safety", "missing")


def test_the_score_job_and_the_model_commands_run_from_the_command_line(trained, redis_url):
    url, model_dir, report = trained
    env = {k: v for k, v in os.environ.items() if not k.startswith("VS_")}
    env.update({"VS_DATABASE_URL": url, "VS_REDIS_URL": redis_url, "VS_MODEL_DIR": str(model_dir), "COLUMNS": "200"})
    job = subprocess.run(
        [sys.executable, "-m", "training.score_job", "--as-of", "2025-11-20"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert job.returncode == 0, job.stderr
    assert f"{BUILDINGS} buildings scored as of 2025-11-20" in job.stdout
    listing = subprocess.run(
        [sys.executable, "-c", "from cluster.cli_model import model_app; model_app()", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listing.returncode == 0, listing.stderr
    assert report.version in listing.stdout and "yes" in listing.stdout
    missing = subprocess.run(
        [sys.executable, "-c", "from cluster.cli_model import model_app; model_app()", "promote", "nope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1
    assert "no overall model with version nope" in missing.stderr


def test_the_serving_adapter_answers_what_the_batch_wrote(trained):
    from psycopg.rows import dict_row

    from sentinel.risk.serving import load_model

    url, model_dir, report = trained
    with psycopg.connect(url) as conn:
        models = scoring.load_active_models(conn, model_dir)
        scoring.score_all(conn, models, CITY_END)
        batch = {r[0]: r for r in _scores(conn)}
        with conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute("SELECT score_kind, version, artifact_path FROM models WHERE is_active").fetchall()
        served = load_model(rows, model_dir)
        bbl = sorted(batch)[5]
        (output,) = served.score(conn, [bbl], CITY_END)
    assert served.versions == dict.fromkeys(registry.SCORE_KINDS, report.version)
    assert output.scores["overall"] == batch[bbl][1]
    assert 0 <= output.probabilities["safety"] <= 1
    assert list(output.reasons) == batch[bbl][7]
