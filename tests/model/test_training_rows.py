"""The training rows read a chunk at a time (into Ray's object store) are the whole-frame read's: the same model
inputs, labels, evaluation slices and trees, on the model tests' city; a rolling fold fitted in a Ray task grows the
trees the driver's single-process fit grows; the evaluation read from the parts (predictions a part at a time, the
baselines and typical values without the frame, an active model of another spec) is the whole frame's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
import ray
import xgboost as xgb

from sentinel.risk import artifacts, baseline
from sentinel.risk.calibration import Percentiles, fit_isotonic
from sentinel.risk.registry import SCORE_KINDS
from training import dataset, distributed, evaluate, pipeline, trial
from training.config import load_training_settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CHUNK = 97  # several chunks a cutoff, so that a chunk misses category levels its cutoff has


@pytest.fixture(scope="module")
def both_reads(city_url, ray_cluster):
    """(the plan's latest split, its other splits, the whole frame, the chunked rows) for the pipeline's cutoffs."""
    url, _ = city_url
    settings = load_training_settings(max_train_cutoffs=4, eval_folds=2)
    with psycopg.connect(url) as conn:
        first, last = conn.execute("SELECT min(issued_date), max(issued_date) FROM violations").fetchone()
        splits = pipeline.plan(first, last, settings)
        cutoffs = sorted({c for s in splits for c in (*s.train, s.calibration, s.test)})
        whole = dataset.build(conn, cutoffs)
        split = splits[0]
        rows = dataset.build_compact(
            conn,
            cutoffs,
            spec_cutoffs=split.train,
            evaluated=(split.calibration, split.test),
            typical=split.calibration,
            chunk=CHUNK,
        )
    return split, splits[1:], whole, rows


def _slice(frame: pd.DataFrame, cutoffs) -> pd.DataFrame:
    keep = frame["cutoff"].isin([pd.Timestamp(c) for c in cutoffs])
    return frame.loc[keep].reset_index(drop=True)


def test_the_chunked_read_gives_the_whole_frames_spec_model_inputs_and_labels(both_reads):
    split, _, whole, rows = both_reads
    spec = dataset.FeatureSpec.from_frame(_slice(whole, split.train))
    assert rows.spec == spec
    assert rows.rows() == len(whole)
    for cutoff in sorted(set(whole["cutoff"].dt.date)):
        part = _slice(whole, [cutoff])
        assert len(part) > CHUNK
        np.testing.assert_array_equal(rows.features([cutoff]), distributed.feature_array(spec, part))
        for kind in dataset.risk_dataset.LABELS:
            np.testing.assert_array_equal(rows.labels([cutoff], kind), part[kind].to_numpy())
    train = _slice(whole, split.train)
    np.testing.assert_array_equal(rows.features(split.train), distributed.feature_array(spec, train))
    assert rows.features(split.train).dtype == np.float32
    # A Train worker's block of rows: across parts (chunks) and cutoffs.
    block = slice(CHUNK // 2, len(train) - CHUNK - 5)
    x, y = rows.of(split.train).gather(block)
    np.testing.assert_array_equal(x, distributed.feature_array(spec, train.iloc[block]))
    np.testing.assert_array_equal(y[:, 1], train["safety"].to_numpy()[block])


def test_the_evaluation_slices_hold_the_whole_frames_ids_labels_and_baseline_scores(both_reads):
    split, _, whole, rows = both_reads
    for cutoff in (split.calibration, split.test):
        frame, kept = _slice(whole, [cutoff]), rows.evaluation(cutoff)
        assert len(kept) == len(frame) > CHUNK
        assert kept.bbl.tolist() == frame["bbl"].tolist()
        for kind in dataset.risk_dataset.LABELS:
            np.testing.assert_array_equal(kept.label(kind), frame[kind].to_numpy())
        assert kept.baselines.keys() == baseline.SCORERS.keys()
        for name, scorer in baseline.SCORERS.items():
            np.testing.assert_array_equal(kept.baselines[name], scorer(frame))
    with pytest.raises(KeyError):
        rows.evaluation(split.train[0])


def test_the_typical_values_from_the_parts_are_the_whole_frames(both_reads):
    split, _, whole, rows = both_reads
    expected = artifacts.typical_values(_slice(whole, [split.calibration]), rows.spec)
    found = rows.typical
    assert list(found) == list(expected)
    assert found == expected  # exact: the medians' bits, not a tolerance


def test_the_evaluation_predicted_a_part_at_a_time_is_the_whole_frames(both_reads):
    """The driver's evaluation as it was (the slices' frames whole, their inputs gathered, the baselines scored on
    the frames) and as it is (predictions a part at a time, the slices' kept scores) give the same report."""
    split, _, whole, rows = both_reads
    spec = rows.spec
    params = {**load_training_settings().params(), "seed": 11, "nthread": 2}
    boosters = {
        kind: pipeline.local_fit(spec, rows.features(split.train), rows.labels(split.train, kind), params, rounds=10)
        for kind in SCORE_KINDS
    }
    cal, test = _slice(whole, [split.calibration]), _slice(whole, [split.test])
    new_cal = pipeline.predictions(rows, [split.calibration], boosters)
    new_test = pipeline.predictions(rows, [split.test], boosters)
    for kind, booster in boosters.items():
        old_cal = booster.predict(pipeline._dmatrix(spec, distributed.feature_array(spec, cal)))
        old_test = booster.predict(pipeline._dmatrix(spec, distributed.feature_array(spec, test)))
        np.testing.assert_array_equal(new_cal[kind], old_cal)
        np.testing.assert_array_equal(new_test[kind], old_test)
        calibrator = fit_isotonic(old_cal, cal[kind].to_numpy())
        assert fit_isotonic(new_cal[kind], rows.evaluation(split.calibration).label(kind)) == calibrator
        assert Percentiles.of(new_cal[kind]) == Percentiles.of(old_cal)
        scores_of = {name: (scorer(cal), scorer(test)) for name, scorer in baseline.SCORERS.items()}
        before = evaluate.evaluate_slice(
            kind,
            ({n: s[0] for n, s in scores_of.items()}, cal[kind].to_numpy(), calibrator(old_cal)),
            ({n: s[1] for n, s in scores_of.items()}, test[kind].to_numpy(), calibrator(old_test)),
            (str(split.calibration), str(split.test)),
        )
        kept_cal, kept_test = rows.evaluation(split.calibration), rows.evaluation(split.test)
        after = evaluate.evaluate_slice(
            kind,
            (kept_cal.baselines, kept_cal.label(kind), calibrator(new_cal[kind])),
            (kept_test.baselines, kept_test.label(kind), calibrator(new_test[kind])),
            (str(split.calibration), str(split.test)),
        )
        assert after.to_dict() == before.to_dict()


def test_an_active_model_of_another_spec_scores_the_parts_as_it_scores_the_frame(both_reads, tmp_path):
    """The active model's check reads the test slice's parts with the spec that model was fitted on: other columns
    in another order, fewer category levels (a level it never saw is missing), or the baseline's count."""
    split, _, whole, rows = both_reads
    spec = rows.spec
    categories = {name: levels[1:] for name, levels in reversed(spec.categories.items())}
    other = dataset.FeatureSpec(numeric=tuple(reversed(spec.numeric[::2])), categories=categories)
    train, test = _slice(whole, split.train), _slice(whole, [split.test])
    params = {**load_training_settings().params(), "seed": 3, "nthread": 2}
    booster = pipeline.local_fit(other, distributed.feature_array(other, train), train["overall"], params, rounds=8)
    calibrator, percentiles = fit_isotonic(np.array([0.1, 0.9]), np.array([0, 1])), Percentiles.of(np.arange(3.0))
    for name, fitted in (("model", booster), ("baseline", None)):
        path = artifacts.save(tmp_path / name, "overall", name, fitted, other, calibrator, percentiles, {})
        active = artifacts.load(path)
        np.testing.assert_array_equal(pipeline._raw(active, rows, split.test), active.raw(test))
    missing = dataset.FeatureSpec(numeric=(*spec.numeric, "not_a_feature"), categories=spec.categories)
    path = artifacts.save(tmp_path / "missing", "overall", "missing", booster, missing, calibrator, percentiles, {})
    with pytest.raises(KeyError):
        artifacts.load(path).raw(test)
    with pytest.raises(KeyError):
        pipeline._raw(artifacts.load(path), rows, split.test)


def test_a_seeded_fit_on_the_chunked_arrays_grows_the_trees_of_the_categorical_frame(both_reads):
    split, folds, whole, rows = both_reads
    spec = rows.spec
    params = {**load_training_settings().params(), "seed": 11}
    params.pop("nthread")
    for train_cutoffs, test_cutoff in [(split.train, split.test), *((f.train, f.test) for f in folds)]:
        train, test = _slice(whole, train_cutoffs), _slice(whole, [test_cutoff])
        # The whole-frame path as it was: xgboost reads pandas categoricals.
        before = xgb.train(
            params,
            xgb.DMatrix(spec.matrix(spec.codes(train)), label=train["overall"], enable_categorical=True),
            num_boost_round=15,
        )
        expected = before.predict(xgb.DMatrix(spec.matrix(spec.codes(test)), enable_categorical=True))
        after = pipeline.local_fit(
            spec, rows.features(train_cutoffs), rows.labels(train_cutoffs, "overall"), params, rounds=15
        )
        predicted = after.predict(pipeline._dmatrix(spec, rows.features([test_cutoff])))
        np.testing.assert_array_equal(predicted, expected)
        assert before.get_dump() == after.get_dump()


def test_a_rolling_fold_fitted_in_a_ray_task_is_the_single_process_fit(both_reads):
    split, folds, _, rows = both_reads
    spec = rows.spec
    params = {**load_training_settings().params(), "seed": 11, "nthread": 2}
    kinds = {"overall": 0, "safety": 1}
    task = ray.remote(trial.fit_fold).options(num_cpus=2)
    data = {"feature_names": spec.names, "feature_types": distributed.feature_types(spec)}
    for train_cutoffs, test_cutoff in [(split.train, split.test), *((f.train, f.test) for f in folds)]:
        fitted = ray.get(task.remote(rows.of(train_cutoffs), rows.of([test_cutoff]), data, params, 15, kinds))
        assert set(fitted) == set(kinds)
        for kind, (y, predicted) in fitted.items():
            booster = pipeline.local_fit(
                spec, rows.features(train_cutoffs), rows.labels(train_cutoffs, kind), params, rounds=15, nthread=2
            )
            np.testing.assert_array_equal(y, rows.labels([test_cutoff], kind))
            np.testing.assert_array_equal(
                predicted, booster.predict(pipeline._dmatrix(spec, rows.features([test_cutoff])))
            )


def test_a_sample_of_the_training_rows_is_the_same_rows_in_every_process_and_shard(both_reads):
    """`max_train_rows`: at most that many rows, the same share of each part, each one of the rows with its own
    labels, drawn alike in the driver and in a Ray task, and two shards of the sample are the sample."""
    split, _, _, rows = both_reads
    every = rows.of(split.train)
    assert every.sampled(0) is every and every.sampled(len(every)) is every
    cap = len(every) // 3
    sample = every.sampled(cap)
    assert cap - len(every.parts) <= len(sample) <= cap
    assert [n for _, n in sample.parts] == [int(n * cap / len(every)) for _, n in every.parts]
    x, y = sample.gather()
    all_x, all_y = every.gather()
    pairs = {row.tobytes() + label.tobytes() for row, label in zip(all_x, all_y, strict=True)}
    assert all(row.tobytes() + label.tobytes() in pairs for row, label in zip(x, y, strict=True))
    assert len({row.tobytes() for row in x}) > 0.9 * len(x)  # drawn without replacement (a few lots look alike)
    np.testing.assert_array_equal(sample.labels_of(), y)
    elsewhere_x, elsewhere_y = ray.get(ray.remote(num_cpus=1)(lambda r: r.gather()).remote(sample))
    np.testing.assert_array_equal(elsewhere_x, x)
    np.testing.assert_array_equal(elsewhere_y, y)
    half = len(sample) // 2
    first, second = sample.gather(slice(0, half)), sample.gather(slice(half, len(sample)))
    np.testing.assert_array_equal(np.concatenate([first[0], second[0]]), x)
    assert not np.array_equal(x, every.sampled(cap, seed=1).gather()[0])


def test_a_matrix_with_its_pages_on_disk_grows_the_trees_of_the_one_in_memory(both_reads):
    split, _, _, rows = both_reads
    spec = rows.spec
    data = {"feature_names": spec.names, "feature_types": distributed.feature_types(spec)}
    params = {**load_training_settings().params(), "seed": 11, "nthread": 2}
    train = rows.of(split.train)
    labels = train.labels_of()[:, 0].astype(np.float32)
    with trial.matrix_cache(len(train), 0) as never, trial.matrix_cache(len(train), len(train) + 1) as too_few:
        assert never is None and too_few is None
    with trial.matrix_cache(len(train), len(train)) as folder:
        assert folder is not None
        on_disk = trial.quantile_matrix(train, None, data, cache_dir=folder)
        assert any(Path(folder).iterdir())  # xgboost's pages, read back while boosting
        on_disk.set_label(labels)
        from_disk = xgb.train(params, on_disk, num_boost_round=15)
        del on_disk
    assert not Path(folder).exists()
    in_memory = trial.quantile_matrix(train, None, data)
    in_memory.set_label(labels)
    assert from_disk.get_dump() == xgb.train(params, in_memory, num_boost_round=15).get_dump()
    # The same through a rolling fold's task: every matrix on disk, then none.
    task = ray.remote(trial.fit_fold).options(num_cpus=2)
    args = (train, rows.of([split.test]), data, params, 15, {"overall": 0})
    disk, memory = ray.get([task.remote(*args, external_memory_rows=1), task.remote(*args, external_memory_rows=0)])
    np.testing.assert_array_equal(disk["overall"][1], memory["overall"][1])


def test_a_validation_matrix_with_its_pages_on_disk_reports_the_metrics_of_the_one_in_memory(both_reads):
    """A Train worker whose shard goes to disk puts its validation shard there too: the same metrics every round."""
    split, _, _, rows = both_reads
    spec = rows.spec
    data = {"feature_names": spec.names, "feature_types": distributed.feature_types(spec)}
    params = {**load_training_settings().params(), "seed": 11, "nthread": 2}
    train, valid = rows.of(split.train), rows.of([split.calibration])
    half = slice(0, len(valid) // 2)
    reported = {}
    with trial.matrix_cache(len(train), 1) as folder:
        for cache_dir in (folder, None):
            dtrain = trial.quantile_matrix(train, None, data, cache_dir=cache_dir)
            dvalid = trial.quantile_matrix(valid, half, data, ref=dtrain, cache_dir=cache_dir, name="valid")
            dtrain.set_label(train.labels_of()[:, 0].astype(np.float32))
            dvalid.set_label(valid.labels_of(half)[:, 0].astype(np.float32))
            log: dict = {}
            booster = xgb.train(params, dtrain, num_boost_round=8, evals=[(dvalid, "valid")], evals_result=log)
            reported[cache_dir is None] = (log, booster.get_dump())
            if cache_dir is not None:
                assert any(p.name.startswith("valid") for p in Path(folder).iterdir())  # its pages, beside dtrain's
            del dtrain, dvalid
    assert reported[True] == reported[False]
    assert len(reported[True][0]["valid"]["auc"]) == 8


def test_train_workers_with_their_shards_on_disk_fit_the_models_of_shards_in_memory(both_reads, tmp_path):
    split, _, _, rows = both_reads
    data = distributed.FitData.of(
        rows.spec, rows.of(split.train), rows.of([split.calibration]), {"overall": 0}
    ).with_kinds(("overall",))
    boosters = {}
    for external in (1, 0):
        settings = load_training_settings(workers=2, num_boost_round=10, report_every=5, external_memory_rows=external)
        params = {**settings.params(), "seed": 5}
        boosters[external] = distributed.fit(data, params, settings, tmp_path, f"external-{external}")["overall"]
    assert boosters[1].num_boosted_rounds() == 10
    assert boosters[1].get_dump() == boosters[0].get_dump()


SPILL_SCRIPT = """
import json
import numpy as np
import ray
from ray._private.internal_api import memory_summary
from cluster import ray_runtime
from sentinel.settings import load_settings
from training.trial import Rows

ray_runtime.connect(load_settings(ray_address=None, ray_num_cpus=1, ray_object_store_mb=80), include_dashboard=False)
rng = np.random.default_rng(3)
parts, xs, ys = [], [], []
for _ in range(48):  # more parts than the store above holds, so Ray spills some to disk
    x = rng.normal(size=(6_000, 88)).astype(np.float32)
    x[:, 87] = rng.integers(0, 3, 6_000)
    y = rng.integers(0, 2, (6_000, 4)).astype(np.int8)
    parts.append((ray.put((x, y)), 6_000))
    xs.append(x)
    ys.append(y)
expected = np.concatenate(xs)
expected[:, 87] = np.array([2.0, 0.0, 1.0], dtype=np.float32)[expected[:, 87].astype(int)]
rows = Rows(tuple(parts), ((87, np.array([2.0, 0.0, 1.0], dtype=np.float32)),), 88, 4)
del xs, x
spilled = "Spilled" in memory_summary(ray.get_runtime_context().gcs_address, stats_only=True)
x, y = ray.get(ray.remote(num_cpus=1)(lambda r: r.gather(slice(5_000, 280_000))).remote(rows))
print(json.dumps({"spilled": spilled, "same": bool(np.array_equal(x, expected[5_000:280_000])
                  and np.array_equal(y, np.concatenate(ys)[5_000:280_000]))}))
ray_runtime.shutdown()
"""


@pytest.mark.slow
def test_rows_beyond_the_object_store_spill_to_disk_and_are_gathered_back(tmp_path):
    # In a fresh interpreter: the session's Ray has its own store size. At full size every cutoff's rows go
    # far beyond `ray_object_store_mb`, so a worker gathers parts that Ray restores from its spill files.
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "VS_RAY_ADDRESS")}
    done = subprocess.run(
        [sys.executable, "-c", SPILL_SCRIPT], cwd=REPO, env=env, capture_output=True, text=True, timeout=540
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"spilled": True, "same": True}
