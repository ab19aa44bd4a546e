"""Distributed XGBoost on Ray: Ray Train's XGBoostTrainer, run inside a Ray Tune function trainable.

Ray Train V2 (the default in Ray 2.60) no longer accepts `Tuner(trainer)`: each Tune trial is a small driver that
builds and fits its own XGBoostTrainer, and the Train controller forwards the workers' reports to it (training.trial,
which holds everything the trial and worker processes run, so they import nothing else of the project's). Reports go
every `report_every` rounds: each report waits for the Train controller's poll, so the stock per-round callback makes
a 100-round fit two orders of magnitude slower here (DESIGN.md, "Ray on small machines").

Data goes to the workers as object-store references to the parts the driver put as it read the features (float32
inputs, categories as codes, int8 labels: `training.trial.Rows`); each worker reads its contiguous block of rows
out of them a part at a time into a QuantileDMatrix (`training.trial.quantile_matrix`), and xgboost's collective
(set up by XGBoostConfig) joins the shards. A trial's start is mostly processes
importing Ray Train and xgboost (seconds of CPU each): runs skip the helper actors they do not need (and Tune's
report queue actor), and two trials run at once so one's start overlaps the other's boosting (benchmarks/RESULTS.md,
"Risk model").
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.fs
import ray
import ray.train
import ray.tune
import xgboost as xgb
from ray.util.placement_group import PlacementGroup

from sentinel.artifact_store import join, s3_environment, storage_uri
from sentinel.risk.dataset import FeatureSpec
from training.config import TrainingSettings
from training.trial import PLACEMENT_GROUP_KEY, Rows, RunShape, model_file, trainer, tune_trial


def feature_types(spec: FeatureSpec) -> list[str]:
    return ["q"] * len(spec.numeric) + ["c"] * len(spec.categories)


def feature_array(spec: FeatureSpec, frame: pd.DataFrame) -> np.ndarray:
    """The model's inputs as one float32 array in `spec.names` order, categories as their codes (NaN unknown).

    xgboost reads it without pandas (a per-worker pandas conversion cost seconds per trial at 1.2M rows) and fits
    the same trees as from the categorical frame that `FeatureSpec.matrix` gives at prediction time."""
    codes = spec.codes(frame)
    out = np.empty((len(frame), len(spec.names)), dtype=np.float32)
    for i, name in enumerate(spec.names):
        column = codes[name].to_numpy()
        out[:, i] = np.where(column < 0, np.nan, column) if name in spec.categories else column
    return out


@dataclass(frozen=True)
class FitData:
    """What every trial's workers read: the training and validation rows as object-store parts (`Rows`: the parts
    `training.dataset.build_compact` put as it read them), and which label column each score fitted takes."""

    train: Rows
    valid: Rows
    spec: dict
    label_columns: dict[str, int]
    kinds: tuple[str, ...] = ()

    @classmethod
    def put(
        cls, spec: FeatureSpec, train: pd.DataFrame, valid: pd.DataFrame, labels: dict[str, tuple[Any, Any]]
    ) -> FitData:
        """From frames and 0/1 labels (score kind -> (training, validation)), one part each."""

        def rows(frame: pd.DataFrame, i: int) -> Rows:
            y = np.stack([np.asarray(pair[i], dtype=np.int8) for pair in labels.values()], axis=1)
            return Rows(((ray.put((feature_array(spec, frame), y)), len(frame)),), (), len(spec.names), len(labels))

        return cls(rows(train, 0), rows(valid, 1), spec.to_dict(), {k: i for i, k in enumerate(labels)})

    @classmethod
    def of(cls, spec: FeatureSpec, train: Rows, valid: Rows, label_columns: dict[str, int]) -> FitData:
        return cls(train, valid, spec.to_dict(), dict(label_columns))

    def with_kinds(self, kinds: tuple[str, ...]) -> FitData:
        """The scores to fit (one model each) in a run."""
        return FitData(self.train, self.valid, self.spec, self.label_columns, tuple(kinds))

    def for_workers(self) -> dict[str, Any]:
        """What `training.trial.worker_loop` reads: references and plain values only, so that the trial actor and
        the workers that unpickle it import nothing of the project's but `training.trial`."""
        spec = FeatureSpec.from_dict(self.spec)
        return {
            "train": self.train,
            "valid": self.valid,
            "kinds": {k: self.label_columns[k] for k in self.kinds},
            "feature_names": spec.names,
            "feature_types": feature_types(spec),
        }


def _shape(settings: TrainingSettings, storage: str) -> RunShape:
    return RunShape(
        workers=settings.workers,
        cpus_per_worker=settings.cpus_per_worker,
        num_boost_round=settings.num_boost_round,
        report_every=settings.report_every,
        health_check_interval_s=settings.health_check_interval_s,
        private_ray=settings.private_ray,
        environment=tuple(sorted(s3_environment().items())) if storage.startswith("s3://") else (),
        external_memory_rows=settings.external_memory_rows,
    )


def fit(
    data: FitData, params: dict, settings: TrainingSettings, storage: str | Path, name: str
) -> dict[str, xgb.Booster]:
    """One distributed Train run (no Tune) fitting a model per labelled kind with the given parameters; `storage`:
    a path or an s3:// URI, where Ray Train keeps the run's checkpoint."""
    storage = storage_uri(storage)
    run = trainer(data.for_workers(), params, _shape(settings, storage), storage, name, callbacks=[])
    with _own_sigint_handler():
        result = run.fit()
    with result.checkpoint.as_directory() as path:
        return {kind: _load(Path(path) / model_file(kind)) for kind in data.kinds}


@contextlib.contextmanager
def _own_sigint_handler() -> Iterator[None]:
    """Puts the caller's SIGINT handler back after a Train run started from the main thread.

    Ray Train's fit() installs a handler there that aborts the run on Ctrl-C and never removes it; the handler
    holds the run's controller actor, so the controller (~255 MB, benchmarks/RESULTS.md "NYC at full size") lived
    as long as the driver. With the handler gone, its last handle is, and Ray ends the actor."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _load(path: Path) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(path)
    return booster


class ReleaseTrainPlacementGroups(ray.tune.Callback):
    """Removes a finished trial's Train worker placement group if it is still there.

    Tune ends a trial it stops (an ASHA cut, or the STOP that ASHA sends at `max_t`, which races the trial's own
    return) by removing the trial's resources, which kills the trial actor at once. The Train V2 controller is a
    child of that actor and dies with it, before it shuts its worker group down; Ray Core keeps a placement group
    until its creator *and* the creator's job are dead (ray-project/ray#65881), so the workers' CPUs stay reserved
    for the rest of the driver's life and the next trial waits for them forever. Train's own safeguard (a detached
    PlacementGroupCleaner, ray#58515) polls the State API, which needs the dashboard and fails outright when two
    local Rays share the host: neither holds here. The workers report their group's id with every result, and the
    driver, which knows when a trial is over, removes what is left of it.
    """

    def on_trial_complete(self, iteration: int, trials: list, trial, **info) -> None:
        self._release(trial)

    def on_trial_error(self, iteration: int, trials: list, trial, **info) -> None:
        self._release(trial)

    def on_trial_recover(self, iteration: int, trials: list, trial, **info) -> None:
        self._release(trial)  # the failed attempt's group, before the retry asks for one of its own

    @staticmethod
    def _release(trial) -> None:
        hex_id = (trial.last_result or {}).get(PLACEMENT_GROUP_KEY)
        if not hex_id:
            return
        group = PlacementGroup(ray.PlacementGroupID(bytes.fromhex(hex_id)))
        if ray.util.placement_group_table(group).get("state", "REMOVED") != "REMOVED":
            ray.util.remove_placement_group(group)


def _concurrency(settings: TrainingSettings) -> int:
    """Trials at once: as many worker groups as the CPUs hold (the trial actors themselves reserve no CPU)."""
    per_trial = settings.workers * settings.cpus_per_worker
    return max(1, min(settings.max_concurrent_trials, int(ray.cluster_resources().get("CPU", 1.0) // per_trial)))


def search_space(settings: TrainingSettings) -> dict[str, Any]:
    samplers = {
        "loguniform": ray.tune.loguniform,
        "uniform": ray.tune.uniform,
        "randint": lambda lo, hi: ray.tune.randint(int(lo), int(hi)),
        "choice": lambda *values: ray.tune.choice(list(values)),
        "grid": lambda *values: ray.tune.grid_search(list(values)),
    }
    space = {}
    for name, spec in settings.search_space.items():
        (kind, args), *_ = spec.items()
        space[name] = samplers[kind](*args)
    return space


@dataclass(frozen=True, slots=True)
class TrialProgress:
    """One trial's state during a sweep, for a progress display: `rounds` boosted of `max_rounds`."""

    trial: str
    config: dict[str, Any]
    state: str  # "running", "finished", "stopped early", "failed"
    rounds: int
    max_rounds: int
    metric: float | None = None


class ReportTrials(ray.tune.Callback):
    """Hands every trial's start, reports and end to `on_trial` (in the driver, where Tune runs callbacks)."""

    def __init__(self, on_trial: Callable[[TrialProgress], None], max_rounds: int, metric: str) -> None:
        self._on_trial: Callable[[TrialProgress], None] | None = on_trial
        self._max_rounds = max_rounds
        self._metric = metric

    def __getstate__(self) -> dict[str, Any]:
        # The Tuner pickles its run config, callbacks included, into the experiment's folder (to restore it) when it
        # is built: a listener holding a lock (the CLI's progress bars) made that raise. A restored sweep has
        # nobody listening.
        return {**self.__dict__, "_on_trial": None}

    def _emit(self, trial: Any, state: str) -> None:
        if self._on_trial is None:
            return
        result = trial.last_result or {}
        value = result.get(self._metric)
        self._on_trial(
            TrialProgress(
                trial=str(trial.trial_id),
                config=dict(trial.config or {}),
                state=state,
                rounds=int(result.get("rounds", 0)),
                max_rounds=self._max_rounds,
                metric=float(value) if isinstance(value, int | float) else None,
            )
        )

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._emit(trial, "running")

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self._emit(trial, "running")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._emit(trial, "finished" if (trial.last_result or {}).get("final") else "stopped early")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._emit(trial, "failed")


class StopWhenSet(ray.tune.Stopper):
    """Ends every trial of the sweep once `event` is set: a caller's deadline or shutdown, from another thread."""

    def __init__(self, event: threading.Event) -> None:
        self._event: threading.Event | None = event

    def __getstate__(self) -> dict[str, Any]:
        return {"_event": None}  # pickled with the run config (see ReportTrials); an event holds a lock

    def __call__(self, trial_id: str, result: dict) -> bool:
        return self.stop_all()

    def stop_all(self) -> bool:
        return self._event is not None and self._event.is_set()


@dataclass(frozen=True)
class SweepResult:
    best_params: dict
    best_metrics: dict
    booster: xgb.Booster
    trials: int
    trials_stopped_early: int
    seconds: float
    first_report_s: float  # mean over trials of trial start -> first report (process starts, data, first rounds)


def sweep(
    data: FitData,
    settings: TrainingSettings,
    storage: str | Path,
    name: str,
    samples: int,
    seed: int = 0,
    on_trial: Callable[[TrialProgress], None] | None = None,
    stop: threading.Event | None = None,
) -> SweepResult:
    """A Tune sweep over configs/tune.yaml's search space with ASHA early stopping; the best trial's model.
    `on_trial` hears of every trial's start, reports and end; setting `stop` ends the trials that run (the sweep
    then raises unless one had finished)."""
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.basic_variant import BasicVariantGenerator

    started = time.perf_counter()
    storage = storage_uri(storage)  # a path or an s3:// URI; joined as a URI (Path would make s3:// "s3:/")
    max_reports = max(1, settings.num_boost_round // settings.report_every)
    scheduler = ASHAScheduler(
        time_attr="training_iteration",
        # The final report (with the checkpoint) is number max_reports + 1: at max_t ASHA would STOP the trial right
        # then and Tune would kill it while its Train run is still shutting down.
        max_t=max_reports + 2,
        grace_period=min(int(settings.asha.get("grace_period", 2)), max_reports),
        reduction_factor=float(settings.asha.get("reduction_factor", 2)),
    )
    trainable = ray.tune.with_resources(
        ray.tune.with_parameters(
            tune_trial,
            data=data.for_workers(),
            base=settings.params(),
            shape=_shape(settings, storage),
            storage=join(storage, f"{name}/train"),
        ),
        # The trial only drives its Train run. A CPU share, however small, kept a second trial's workers from
        # fitting on 4 CPUs (2 x 2 workers + 0.02); Tune refuses an empty request, so one byte of memory it is.
        {"CPU": 0, "memory": 1},
    )
    callbacks: list[ray.tune.Callback] = [ReleaseTrainPlacementGroups()]
    if on_trial is not None:
        callbacks.append(ReportTrials(on_trial, settings.num_boost_round, settings.metric))
    tuner = ray.tune.Tuner(
        trainable,
        param_space=search_space(settings),
        tune_config=ray.tune.TuneConfig(
            metric=settings.metric,
            mode=settings.mode,
            scheduler=scheduler,
            num_samples=samples,
            # max_concurrent_trials is ignored with a SearchGenerator (Tune warns and runs every trial at once,
            # which stalled a 16-trial sweep here): the generator itself takes the limit.
            search_alg=BasicVariantGenerator(random_state=seed, max_concurrent=_concurrency(settings)),
        ),
        run_config=ray.tune.RunConfig(
            name=name,
            storage_path=join(storage, name),
            verbose=0,
            callbacks=callbacks,
            failure_config=ray.tune.FailureConfig(max_failures=settings.trial_max_failures),
            stop=StopWhenSet(stop) if stop is not None else None,
        ),
    )
    grid = tuner.fit()
    finished = [r for r in grid if r.error is None and r.metrics and r.metrics.get("final")]
    if not finished:
        errors = [str(r.error) for r in grid if r.error is not None]
        raise RuntimeError(f"no trial of sweep {name} finished: {errors[:1]}")
    better = min if settings.mode == "min" else max
    best = better(finished, key=lambda r: r.metrics[settings.metric])
    # The reported path has no scheme (a bucket's is "bucket/prefix/..."): read it through the storage's file system.
    filesystem, _ = pyarrow.fs.FileSystem.from_uri(storage)
    checkpoint = ray.train.Checkpoint(best.metrics["checkpoint_path"], filesystem=filesystem)
    with checkpoint.as_directory() as path:
        booster = _load(Path(path) / model_file(data.kinds[0]))
    firsts = [r.metrics_dataframe["time_total_s"].iloc[0] for r in grid if r.metrics_dataframe is not None]
    return SweepResult(
        best_params={**settings.params(), **best.config},
        best_metrics={k: v for k, v in best.metrics.items() if isinstance(v, int | float)},
        booster=booster,
        trials=len(grid),
        trials_stopped_early=len(grid) - len(finished),
        seconds=time.perf_counter() - started,
        first_report_s=float(np.mean(firsts)) if firsts else float("nan"),
    )
