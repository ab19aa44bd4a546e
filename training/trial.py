"""What the Ray processes of a training run execute: the Tune trial function, the Train run it starts and the Train
workers' loop.

Ray unpickles a function by importing its module, so every Tune trial actor and every Train worker imports this
module. It imports only Ray and xgboost, which those processes import anyway (Ray Train's XGBoost backend imports
xgboost); the project's pandas, PostgreSQL and settings modules stay in the driver (training.distributed), and only
plain values cross into these processes. On 2 cores a trial's start is CPU-bound: each module imported here is paid
once per trial actor and once per worker (benchmarks/RESULTS.md, "Risk model").
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import tempfile
import threading
from dataclasses import dataclass
from multiprocessing.connection import Client, Listener
from pathlib import Path
from typing import Any

import ray
import ray.train
import ray.tune
import xgboost as xgb
from ray.train import Checkpoint, LoggingConfig, RunConfig, ScalingConfig, UserCallback
from ray.train.xgboost import XGBoostTrainer

from training import ray_private

PLACEMENT_GROUP_KEY = "train_placement_group"
CHECKPOINT_PATH_KEY = "checkpoint_path"  # the key Ray's TuneReportCallback uses


@dataclass(frozen=True)
class RunShape:
    """The settings a Train run needs (a picklable subset of TrainingSettings, which lives with the driver)."""

    workers: int
    cpus_per_worker: float
    num_boost_round: int
    report_every: int
    health_check_interval_s: float
    # The overrides of training.ray_private and the loopback report channel, where this Ray supports them; False
    # takes the public path (XGBoostTrainer, Tune's TuneReportCallback) whatever the version.
    private_ray: bool = True
    # Variables the run's controller and workers get (they write the checkpoints): how to reach an s3:// storage,
    # from the driver's environment, for a cluster whose nodes were started without them.
    environment: tuple[tuple[str, str], ...] = ()


class EveryNRounds(xgb.callback.TrainingCallback):
    """Reports the latest evaluation metrics every `every` rounds (not every round: each report is a barrier)."""

    def __init__(self, every: int, extra: dict | None = None) -> None:
        self.every = every
        self.extra = extra or {}
        self.last: dict = {}

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
        self.last = evals_log
        if (epoch + 1) % self.every == 0:
            ray.train.report({**metrics_of(evals_log, epoch + 1), **self.extra})
        return False


def _worker_group_placement() -> dict[str, str]:
    """The hex id of the placement group this Train worker runs in, for `ReleaseTrainPlacementGroups`."""
    group = ray.util.get_current_placement_group()
    return {PLACEMENT_GROUP_KEY: group.id.hex()} if group is not None else {}


def metrics_of(evals_log: dict, rounds: int) -> dict[str, float]:
    out: dict[str, float] = {"rounds": rounds}
    for data, by_metric in evals_log.items():
        for metric, values in by_metric.items():
            out[f"{data}-{metric}"] = float(values[-1])
    return out


def _shard(rows: int, rank: int, size: int) -> slice:
    return slice(rank * rows // size, (rank + 1) * rows // size)


def model_file(kind: str) -> str:
    return f"model-{kind}.ubj"


def worker_loop(config: dict[str, Any]) -> None:
    """One Train worker: its shard of the rows, then one xgboost.train per score in the collective, one after
    another in the same worker group (a worker group costs seconds to start; a score's fit may cost less)."""
    # Train's worker logs each report at INFO ("Reporting training result 23: ...") through a logger named by its
    # file path, which LoggingConfig's level (it filters `ray.train.*` names) does not reach; the root's level does.
    logging.getLogger().setLevel(logging.WARNING)
    context = ray.train.get_context()
    rank, size = context.get_world_rank(), context.get_world_size()
    # Zero-copy views of the object store's arrays; a contiguous shard stays a view. The quantile sketch (the
    # collective merges it across workers) is done once here and shared by every score's fit: only labels change.
    features, valid_features = ray.get(config["train_ref"]), ray.get(config["valid_ref"])
    rows, valid_rows = _shard(len(features), rank, size), _shard(len(valid_features), rank, size)
    kwargs = {"feature_names": config["feature_names"], "feature_types": config["feature_types"]}
    dtrain = xgb.QuantileDMatrix(features[rows], enable_categorical=True, **kwargs)
    dvalid = xgb.QuantileDMatrix(valid_features[valid_rows], ref=dtrain, enable_categorical=True, **kwargs)
    labels = ray.get(config["labels_ref"])
    placement = _worker_group_placement()
    boosters, final = {}, {}
    for kind, (y_train, y_valid) in labels.items():
        dtrain.set_label(y_train[rows])
        dvalid.set_label(y_valid[valid_rows])
        callback = EveryNRounds(config["report_every"], placement)
        boosters[kind] = xgb.train(
            config["params"],
            dtrain,
            num_boost_round=config["num_boost_round"],
            evals=[(dvalid, "valid")],
            callbacks=[callback],
            verbose_eval=False,
        )
        final[kind] = metrics_of(callback.last, boosters[kind].num_boosted_rounds())
    metrics = {**final[next(iter(final))], **placement, "final": 1}
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = None
        if rank == 0:
            for kind, booster in boosters.items():
                booster.save_model(Path(tmp) / model_file(kind))
            checkpoint = Checkpoint.from_directory(tmp)
        ray.train.report(metrics, checkpoint=checkpoint)


def controller_environment(shape: RunShape) -> dict[str, str]:
    """Ray Train's settings for one run's controller and workers (they read them from their environment)."""
    env = {
        "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": str(shape.health_check_interval_s),
        # Starting worker processes takes far longer than the 60 s default on a busy 2-core machine.
        "RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S": "600",
        **dict(shape.environment),
    }
    # The preemption watcher is one more actor process per run, polling for node drains, which a one-node Ray never
    # has; a cluster (spot nodes) keeps it.
    if sum(node["Alive"] for node in ray.nodes()) == 1:
        env["RAY_TRAIN_ENABLE_PREEMPTION_WATCHER"] = "0"
    return env


def trainer(
    data: dict[str, Any], params: dict, shape: RunShape, storage: str | Path, name: str, callbacks: list
) -> XGBoostTrainer:
    """A Train run of `worker_loop`; `data` holds the object references and feature names and types. `storage`: an
    absolute path or an s3:// URI (Ray's `storage_path`)."""
    return ray_private.xgboost_trainer(
        worker_loop,
        controller_env=controller_environment(shape),
        private=shape.private_ray,
        train_loop_config={
            **data,
            "params": params,
            "num_boost_round": shape.num_boost_round,
            "report_every": shape.report_every,
        },
        scaling_config=ScalingConfig(num_workers=shape.workers, resources_per_worker={"CPU": shape.cpus_per_worker}),
        # Train logs its progress at INFO on the console of every driver (resources requested, worker group
        # started, checkpoints): lines between the CLI's output. Its log files under the Ray session keep all.
        run_config=RunConfig(
            name=name, storage_path=str(storage), callbacks=callbacks, logging_config=LoggingConfig(log_level="WARNING")
        ),
    )


class ReportToTrial(UserCallback):
    """Forwards each Train report (rank 0's metrics, the checkpoint's path) to the Tune trial that started the run.

    What Ray's `TuneReportCallback` does, without its channel: that one is a queue actor per trial (one more process
    start) which the trial polls with a remote call several times a second for the whole run, CPU spent in the
    queue actor and as much again in the trial. Here the trial listens on a loopback socket: the controller, where user
    callbacks run, is placed on the node of the process that calls `fit()`, i.e. the trial's (Ray 2.60 does so;
    `ray_private.LeanXGBoostTrainer` keeps it so, and this callback is used only with it). A controller found on
    another node fails the run with a message rather than sending to a stranger's port. The authkey keeps other
    local processes from sending it pickles.
    """

    def __init__(self, address: tuple[str, int], authkey: bytes, node_id: str) -> None:
        self.address = address
        self.authkey = authkey
        self.node_id = node_id

    def after_report(self, run_context, metrics: list[dict[str, Any]], checkpoint: Checkpoint | None) -> None:
        here = ray.get_runtime_context().get_node_id()
        if here != self.node_id:
            raise RuntimeError(
                f"the Train controller runs on node {here}, not on its Tune trial's node {self.node_id}: "
                "the loopback report channel needs them together (run with private_ray=False)"
            )
        out = dict(metrics[0])
        if checkpoint is not None:
            out[CHECKPOINT_PATH_KEY] = checkpoint.path
        # Returns once the trial has accepted the report (it has a backlog, not a buffer of reports): the same
        # back-pressure as the size-1 queue of TuneReportCallback.
        with Client(self.address, authkey=self.authkey) as connection:
            connection.send(out)


def tune_trial(config: dict, *, data: dict[str, Any], base: dict, shape: RunShape, storage: str) -> None:
    """The Tune function trainable: one Train run with this trial's parameters, its reports forwarded to Tune.

    On the pinned Ray the reports come over a loopback socket (`ReportToTrial`); otherwise through Tune's own
    `TuneReportCallback`. Either way, when Tune stops the trial (an ASHA cut), `ray.tune.report` ends the trial's
    thread with SystemExit and Tune then ends the actor, which takes the Train controller and its workers with it
    (`ReleaseTrainPlacementGroups` frees their CPUs)."""
    trial = ray.tune.get_context().get_trial_id()
    params = {**base, **config}
    if shape.private_ray and ray_private.SUPPORTED:
        _run_with_loopback_reports(data, params, shape, storage, f"train-{trial}")
    else:
        trainer(data, params, shape, storage, f"train-{trial}", [ray_private.tune_report_callback()]).fit()


def _run_with_loopback_reports(data: dict[str, Any], params: dict, shape: RunShape, storage: str, name: str) -> None:
    """The run goes in a thread; this one (Tune's function thread) hands each report the controller sends to
    `ray.tune.report`, then re-raises whatever the run raised."""
    authkey = secrets.token_bytes(32)
    node_id = ray.get_runtime_context().get_node_id()
    with Listener(("127.0.0.1", 0), backlog=16, authkey=authkey) as listener:
        address = listener.address
        run = trainer(data, params, shape, storage, name, [ReportToTrial(address, authkey, node_id)])
        failure: list[BaseException] = []

        def fit() -> None:
            try:
                run.fit()
            except BaseException as error:  # handed to the trial's thread, which raises it
                failure.append(error)
            finally:
                # Refused once Tune has stopped the trial and the listener is closed: nobody is waiting then.
                with contextlib.suppress(OSError), Client(address, authkey=authkey) as connection:
                    connection.send(None)

        thread = threading.Thread(target=fit, name=name, daemon=True)
        thread.start()
        while True:
            with listener.accept() as connection:
                report = connection.recv()
            if report is None:
                break
            ray.tune.report(report)
        thread.join()
    if failure:
        raise failure[0]
