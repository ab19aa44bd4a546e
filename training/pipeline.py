"""`vsentinel train`: build the dataset -> (sweep) -> fit every score on Ray -> calibrate -> evaluate -> register.

Splits are out of time and never share a label window: for a test cutoff T, the calibration cutoff is T - 12
months (its labels end at T) and training cutoffs end at T - 24 months (their labels end at the calibration
cutoff). The Tune sweep validates on the calibration slice; the test slice is touched once, for the report and
the promotion gate. Earlier folds (T - 1 quarter, ...) are refitted with the chosen parameters to show stability,
each by single-process xgboost in a Ray task that reads the fold's rows from the object store.

The gate: a score's model may serve only when it beats the weighted open count on the test slice by more than
chance (the lower end of a paired bootstrap interval of the AUC difference is above zero). When it does not, the
score is served by that count, calibrated on the same slice as the model would have been (`scorer: "baseline"`),
unless the active model still passes the gate on this test slice. `promote=True` skips only the comparison with
the active model, never the gate.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import psycopg
import ray
import xgboost as xgb

from sentinel.artifact_store import ArtifactStore, LocalStore, as_store, fetch
from sentinel.risk import artifacts, features, metrics, registry
from sentinel.risk.bootstrap import auc_intervals
from sentinel.risk.calibration import Calibrator, Percentiles, fit_isotonic
from sentinel.risk.oracle import true_probability
from sentinel.risk.registry import SCORE_KINDS
from training import dataset, distributed, evaluate, trial
from training.config import TrainingSettings

Log = Callable[[str], None]


def _shift(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Split:
    train: tuple[date, ...]
    calibration: date
    test: date


def plan(first_day: date, last_day: date, settings: TrainingSettings, folds: int | None = None) -> list[Split]:
    """Latest split first. The test cutoff is the last quarter start whose whole horizon is in the data."""
    quarters = dataset.quarterly_cutoffs(first_day, last_day)
    tests = [c for c in quarters if (last_day - c).days + 1 >= settings.horizon_days]
    splits = []
    for test in reversed(tests[-(folds or settings.eval_folds) :]):
        calibration = _shift(test, -12)
        last_train = _shift(test, -24)
        earliest = date.fromordinal(first_day.toordinal() + settings.history_days)
        train = [c for c in quarters if earliest <= c <= last_train][-settings.max_train_cutoffs :]
        if train:
            splits.append(Split(tuple(train), calibration, test))
    if not splits:
        raise ValueError(f"data from {first_day} to {last_day} is too short for a 2-year train/calibrate/test split")
    return splits


@dataclass
class TrainReport:
    version: str
    directory: Path  # the report's folder on this machine: the local store's, or a staging copy (removed) for a bucket
    split: Split
    rows: dict[str, int]
    timings: dict[str, float]
    params: dict[str, Any]
    results: list[evaluate.SliceResult]
    folds: list[dict]
    promoted: list[str]  # scores whose new model now serves
    sweep: dict[str, Any] = field(default_factory=dict)
    baselined: list[str] = field(default_factory=list)  # scores now served by the calibrated baseline
    scorers: dict[str, str] = field(default_factory=dict)  # score -> "model" | "baseline" serving after this run
    uri: str = ""  # the version's folder in the artifact store (report.md, evaluation.json, one folder per score)


def _dmatrix(spec: dataset.FeatureSpec, features: np.ndarray) -> xgb.DMatrix:
    """The arrays the Train workers read (`TrainingRows.features`), typed as they type them."""
    return xgb.DMatrix(
        features, feature_names=spec.names, feature_types=distributed.feature_types(spec), enable_categorical=True
    )


def local_fit(
    spec: dataset.FeatureSpec, features: np.ndarray, y: np.ndarray, params: dict, rounds: int, nthread: int = 0
):
    """Single-process xgboost on the same matrix (the benchmark's comparison; the rolling folds' task,
    `training.trial.fit_fold`, grows its trees: tests/model/test_training_rows.py), on xgboost's default threads
    unless `nthread` (the configured nthread is a Train worker's).

    A QuantileDMatrix, as the Train workers build: it keeps the features' histogram bins (a byte a value) where a
    DMatrix copies them (8 bytes a value) first, ~1.1 KB less a training row at the peak, and it grows the same
    trees with `hist` (tests/model/test_training_rows.py)."""
    local = {k: v for k, v in params.items() if k != "nthread"} | ({"nthread": nthread} if nthread else {})
    dtrain = xgb.QuantileDMatrix(
        features,
        label=y,
        feature_names=spec.names,
        feature_types=distributed.feature_types(spec),
        enable_categorical=True,
    )
    return xgb.train(local, dtrain, num_boost_round=rounds)


def predictions(
    rows: dataset.TrainingRows,
    cutoffs: list[date],
    boosters: dict[str, xgb.Booster],
    spec: dataset.FeatureSpec | None = None,
) -> dict[str, np.ndarray]:
    """Each booster's raw predictions on the cutoffs' rows, read from the object store a part at a time (`spec`'s
    inputs: this run's by default), so that the driver never holds a slice's inputs whole; xgboost predicts a row
    alone, so these are the predictions on the whole array (tests/model/test_training_rows.py)."""
    spec = spec or rows.spec
    out: dict[str, list[np.ndarray]] = {kind: [] for kind in boosters}
    for x in rows.inputs(cutoffs, spec):
        matrix = _dmatrix(spec, x)
        for kind, booster in boosters.items():
            out[kind].append(booster.predict(matrix))
    return {kind: np.concatenate(p) if p else np.empty(0, dtype=np.float32) for kind, p in out.items()}


def _raw(model: artifacts.LoadedModel, rows: dataset.TrainingRows, cutoff: date) -> np.ndarray:
    """`model.raw` of the cutoff's rows (the active scorer, with the spec it was fitted on)."""
    if model.booster is None:
        return rows.evaluation(cutoff).baselines[evaluate.GATE_BASELINE]
    return predictions(rows, [cutoff], {"raw": model.booster}, model.spec)["raw"]


def run(
    conn: psycopg.Connection,
    settings: TrainingSettings,
    model_dir: ArtifactStore | Path,
    storage: str | Path,
    *,
    tune: bool = False,
    samples: int | None = None,
    promote: bool = False,
    ground_truth: Path | None = None,
    log: Log = print,
    on_trial: Callable[[distributed.TrialProgress], None] | None = None,
) -> TrainReport:
    """Trains, evaluates and registers the four scores; `model_dir` is the artifact store (a directory is taken as a
    local one) that every artifact goes to, written first to a local staging folder; `storage` is Ray Tune and Train's
    (a path or an s3:// URI, `Settings.resolved_ray_storage`)."""
    store = as_store(model_dir)
    staging = store.directory if isinstance(store, LocalStore) else Path(tempfile.mkdtemp(prefix="vsentinel-model-"))
    timings: dict[str, float] = {}
    first, last = conn.execute("SELECT min(issued_date), max(issued_date) FROM violations").fetchone()
    splits = plan(first, last, settings)
    split = splits[0]
    cutoffs = sorted({c for s in splits for c in (*s.train, s.calibration, s.test)})
    log(f"building features for {len(cutoffs)} cutoffs ({cutoffs[0]} .. {cutoffs[-1]}), {dataset.CHUNK_ROWS} a chunk")
    started = time.perf_counter()
    rows = dataset.build_compact(
        conn,
        cutoffs,
        spec_cutoffs=split.train,
        evaluated=(split.calibration, split.test),
        typical=split.calibration,
        horizon_days=settings.horizon_days,
        financial_threshold=settings.financial_threshold,
    )
    timings["dataset_s"] = time.perf_counter() - started
    spec = rows.spec
    cal, test = rows.evaluation(split.calibration), rows.evaluation(split.test)
    train = rows.of(split.train, at_most=settings.max_train_rows)
    n_train = len(train)
    log(f"{rows.rows()} rows in {timings['dataset_s']:.1f}s; train {n_train}, calibrate {len(cal)}, test {len(test)}")

    version = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    # The rows are in the object store already: the workers read them from the cutoffs' parts.
    label_columns = {k: features.LABELS.index(k) for k in SCORE_KINDS}
    shared = distributed.FitData.of(spec, train, rows.of([split.calibration]), label_columns)
    params = settings.params()
    boosters: dict[str, xgb.Booster] = {}
    sweep_info: dict[str, Any] = {}
    if tune:
        data = shared.with_kinds(("overall",))
        n = samples or settings.num_samples
        log(f"sweeping {n} trials on the overall score ({settings.workers} workers each)")
        result = distributed.sweep(data, settings, storage, f"sweep-{version}", samples=n, on_trial=on_trial)
        params, boosters["overall"] = result.best_params, result.booster
        timings["sweep_s"] = result.seconds
        sweep_info = {
            "trials": result.trials,
            "stopped_early": result.trials_stopped_early,
            "first_report_s": round(result.first_report_s, 1),
            "best_metrics": result.best_metrics,
        }
        log(f"sweep: {result.trials} trials in {result.seconds:.0f}s, best {result.best_metrics}")
    started = time.perf_counter()
    remaining = tuple(k for k in SCORE_KINDS if k not in boosters)
    boosters.update(distributed.fit(shared.with_kinds(remaining), params, settings, storage, f"fit-{version}"))
    log(f"fitted {', '.join(remaining)} in one Ray Train run ({settings.workers} workers)")
    timings["fit_s"] = time.perf_counter() - started

    oracle = None
    if ground_truth is not None:
        oracle = true_probability(ground_truth, test.bbl.tolist(), split.test)
    results, saved = [], {}
    count_cal = cal.baselines[evaluate.GATE_BASELINE]
    predicted_cal = predictions(rows, [split.calibration], boosters)
    predicted_test = predictions(rows, [split.test], boosters)
    for kind in SCORE_KINDS:
        booster = boosters[kind]
        raw_cal, raw_test = predicted_cal[kind], predicted_test[kind]
        calibrator = fit_isotonic(raw_cal, cal.label(kind))
        result = evaluate.evaluate_slice(
            kind,
            (cal.baselines, cal.label(kind), calibrator(raw_cal)),
            (test.baselines, test.label(kind), calibrator(raw_test)),
            (str(split.calibration), str(split.test)),
            oracle=oracle,
            oracle_is_truth=kind == "safety",
        )
        results.append(result)
        fallback = (fit_isotonic(count_cal, cal.label(kind)), Percentiles.of(count_cal))
        saved[kind] = (booster, calibrator, Percentiles.of(raw_cal), result, fallback)
        gap = result.over_baseline["model"]
        log(
            f"{kind}: test ROC AUC {result.intervals['model']}, over the weighted open count {gap} "
            f"({'passes' if result.beats_baseline else 'fails'} the gate)"
        )

    folds = _rolling_folds(rows, splits[1:], params, settings)
    directory = staging / version
    typical = rows.typical
    promoted, baselined, scorers = [], [], {}
    for kind, (booster, calibrator, percentiles, result, fallback) in saved.items():
        extra = {
            "params": params,
            "metrics": result.to_dict(),
            "split": {"train": [str(c) for c in split.train], "calibration": str(split.calibration),
                      "test": str(split.test)},
            "horizon_days": settings.horizon_days,
            "financial_threshold": settings.financial_threshold,
        }  # fmt: skip
        path = artifacts.save(staging, kind, version, booster, spec, calibrator, percentiles, extra, typical)
        uri = store.put_dir(path, f"{version}/{kind}")
        gate = {
            "auc_over_weighted_count": result.over_baseline["model"].to_dict(),
            "beats_baseline": result.beats_baseline,
        }
        summary = {
            "roc_auc": result.model.roc_auc,
            "pr_auc": result.model.pr_auc,
            "brier": result.model.brier,
            "test_cutoff": str(split.test),
            **gate,
        }
        registry.register(conn, kind, version, uri, params, metrics._finite(summary))
        base_version = f"{version}-baseline"
        base_path = artifacts.save(staging, kind, base_version, None, spec, *fallback, extra, typical)
        base_uri = store.put_dir(base_path, f"{base_version}/{kind}")
        base_eval = result.baselines[evaluate.GATE_BASELINE]
        base_summary = {"roc_auc": base_eval.roc_auc, "pr_auc": base_eval.pr_auc, "brier": base_eval.brier,
                        "test_cutoff": str(split.test)}  # fmt: skip
        registry.register(conn, kind, base_version, base_uri, {}, metrics._finite(base_summary), scorer="baseline")
        if result.beats_baseline:
            if promote or _beats_active(conn, kind, result.model.roc_auc, rows, split.test, store):
                registry.promote(conn, kind, version)
                promoted.append(kind)
        elif not _active_model_passes(conn, kind, rows, split.test, fallback[0], store):
            registry.promote(conn, kind, base_version)
            baselined.append(kind)
        scorers[kind] = registry.active(conn)[kind].scorer
    log(f"serving: {scorers}")
    report = TrainReport(
        version=version,
        directory=directory,
        split=split,
        rows={"train": n_train, "calibration": len(cal), "test": len(test), "all": rows.rows()},
        timings=timings,
        params=params,
        results=results,
        folds=folds,
        promoted=promoted,
        sweep=sweep_info,
        baselined=baselined,
        scorers=scorers,
    )
    _write_report(report)
    report.uri = store.put_dir(directory, version)
    if staging != getattr(store, "directory", None):
        shutil.rmtree(staging, ignore_errors=True)  # everything is in the bucket now
    return report


def fold_threads(settings: TrainingSettings) -> int:
    """CPUs a rolling fold's task takes, and xgboost's threads in it: a Train run's (the folds run after it)."""
    return max(1, int(settings.workers * settings.cpus_per_worker))


def _rolling_folds(
    rows: dataset.TrainingRows, splits: list[Split], params: dict, settings: TrainingSettings
) -> list[dict]:
    """Each fold fitted by `training.trial.fit_fold` in a Ray task, one fold at a time: the task reads the fold's
    rows from the object store a part at a time, so the driver never holds them (nor xgboost's matrix of them)."""
    threads = fold_threads(settings)
    task = ray.remote(trial.fit_fold).options(num_cpus=threads)
    data = {"feature_names": rows.spec.names, "feature_types": distributed.feature_types(rows.spec)}
    kinds = {k: features.LABELS.index(k) for k in ("overall", "safety")}
    out = []
    for split in splits:
        fold = task.remote(
            rows.of(split.train, at_most=settings.max_train_rows), rows.of([split.test]), data,
            {**params, "nthread": threads}, settings.num_boost_round, kinds, settings.external_memory_rows,
        )  # fmt: skip
        for kind, (y, p) in ray.get(fold).items():
            out.append(
                {
                    "kind": kind,
                    "train_through": str(split.train[-1]),
                    "test_cutoff": str(split.test),
                    "roc_auc": metrics.roc_auc(y, p),
                    "pr_auc": metrics.pr_auc(y, p),
                    "brier": metrics.brier(y, p),
                }
            )
    return out


def _beats_active(conn, kind: str, auc: float, rows: dataset.TrainingRows, cutoff: date, store: ArtifactStore) -> bool:
    """Promote without being asked only when the new model ranks this test slice better than the active one."""
    current = registry.active(conn).get(kind)
    if current is None:
        return True
    try:
        model = artifacts.load(fetch(current.artifact_uri, store))
    except (OSError, ValueError):
        return True
    try:
        active_auc = metrics.roc_auc(rows.evaluation(cutoff).label(kind), _raw(model, rows, cutoff))
    except (KeyError, ValueError, xgb.core.XGBoostError):
        return True
    return auc > active_auc


def _active_model_passes(
    conn, kind: str, rows: dataset.TrainingRows, cutoff: date, count_calibrator: Calibrator, store: ArtifactStore
) -> bool:
    """Whether the active scorer of `kind` is a model that passes the gate on this run's test slice (it keeps
    serving when the new model does not)."""
    current = registry.active(conn).get(kind)
    if current is None or current.scorer != "model":
        return False
    evaluated = rows.evaluation(cutoff)
    try:
        model = artifacts.load(fetch(current.artifact_uri, store))
        p = _raw(model, rows, cutoff)
    except (OSError, ValueError, KeyError, xgb.core.XGBoostError):
        return False
    count = count_calibrator(evaluated.baselines[evaluate.GATE_BASELINE])
    _, gaps = auc_intervals(evaluated.label(kind), {"model": p, "count": count}, reference="count")
    return gaps["model"].low > 0


def _write_report(report: TrainReport) -> None:
    directory = report.directory
    directory.mkdir(parents=True, exist_ok=True)
    body = {
        "version": report.version,
        "split": {"train": [str(c) for c in report.split.train], "calibration": str(report.split.calibration),
                  "test": str(report.split.test)},
        "rows": report.rows,
        "timings": report.timings,
        "params": report.params,
        "sweep": report.sweep,
        "results": [r.to_dict() for r in report.results],
        "folds": report.folds,
        "promoted": report.promoted,
        "baselined": report.baselined,
        "scorers": report.scorers,
    }  # fmt: skip
    (directory / "evaluation.json").write_bytes(
        orjson.dumps(metrics._finite(body), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    )
    header = [
        f"# Risk model {report.version}",
        "",
        f"Train cutoffs {report.split.train[0]} .. {report.split.train[-1]} ({report.rows['train']} rows), "
        f"calibration {report.split.calibration}, test {report.split.test} ({report.rows['test']} buildings).",
        "",
        "![lift and reliability](curves.png)",
        "",
        "",
    ]
    (directory / "report.md").write_text("\n".join(header) + evaluate.markdown(report.results, report.folds))
    evaluate.plot(report.results, directory / "curves.png")


__all__ = ["Split", "TrainReport", "features", "local_fit", "plan", "run"]
