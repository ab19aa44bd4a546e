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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from multiprocessing.connection import Client, Listener
from pathlib import Path
from typing import Any

import numpy as np
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
    # A worker whose shard has this many training rows or more keeps xgboost's matrix on its disk (0: never).
    external_memory_rows: int = 0


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


@dataclass(frozen=True)
class Rows:
    """Feature rows in the object store, as the driver read them: `parts` laid end to end, each part a reference
    to (float32 features [n, features], int8 labels [n, labels]) and its row count. The categorical columns hold
    codes of the read's own (`recode`: column -> float32 table of the model's code, NaN for a level the model does
    not know), so that a part could go to the store before the model's levels were known."""

    parts: tuple[tuple[ray.ObjectRef, int], ...]
    recode: tuple[tuple[int, np.ndarray], ...]
    features: int
    labels: int
    # A sample (`sampled`): per part, how many rows its object holds, of which the part's count in `parts` are read,
    # drawn with the seed (`seed`, the part's position). Empty: every row.
    drawn_from: tuple[int, ...] = ()
    seed: int = 0

    def __len__(self) -> int:
        return sum(n for _, n in self.parts)

    def sampled(self, at_most: int, seed: int = 0) -> Rows:
        """At most `at_most` of the rows (0: all of them): the same share of each part, drawn without replacement
        by a generator seeded with the part's position, so that every process reading them reads the same rows. A
        sample is given back as it is (its counts are no longer its objects')."""
        total = len(self)
        if not at_most or total <= at_most or self.drawn_from:
            return self
        share = at_most / total
        parts = tuple((ref, int(n * share)) for ref, n in self.parts)
        return replace(self, parts=parts, drawn_from=tuple(n for _, n in self.parts), seed=seed)

    def _drawn(self, index: int) -> np.ndarray | None:
        """The rows of part `index`'s object that are read, in their order (None: all of them)."""
        if not self.drawn_from:
            return None
        draw = np.random.default_rng((self.seed, index)).choice(self.drawn_from[index], self.parts[index][1], False)
        return np.sort(draw)

    def _overlaps(self, rows: slice | None) -> Iterator[tuple[ray.ObjectRef, slice | np.ndarray]]:
        """Each part that rows `rows` (all by default) reach, with the rows of its object they take (a slice, or
        the drawn rows' positions in a sample)."""
        start, stop, _ = (rows or slice(0, len(self))).indices(len(self))
        offset = 0
        for index, (ref, n) in enumerate(self.parts):
            lo, hi = max(start, offset), min(stop, offset + n)
            if lo < hi:
                share = slice(lo - offset, hi - offset)
                drawn = self._drawn(index)
                yield ref, share if drawn is None else drawn[share]
            offset += n

    def blocks(self, rows: slice | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Rows `rows` a part at a time: each part's share as a float32 array of model inputs (`feature_array`'s
        layout, the model's codes) and one of int8 labels, copies made in this process."""
        for ref, share in self._overlaps(rows):
            features, labels = ray.get(ref)  # zero-copy views of the store's (or a restored spilled) object
            x, y = _own(features, share), _own(labels, share)
            del features, labels
            for column, table in self.recode:
                codes = x[:, column]
                known = ~np.isnan(codes)
                codes[known] = table[codes[known].astype(np.intp)]
            yield x, y

    def gather(self, rows: slice | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows `rows` (all by default) as one float32 array of model inputs and one of int8 labels (the tests and
        the driver's evaluation slices; a fit reads `blocks`)."""
        start, stop, _ = (rows or slice(0, len(self))).indices(len(self))
        x = np.empty((max(stop - start, 0), self.features), dtype=np.float32)
        y = np.empty((len(x), self.labels), dtype=np.int8)
        at = 0
        for x_part, y_part in self.blocks(rows):
            x[at : at + len(x_part)], y[at : at + len(y_part)] = x_part, y_part
            at += len(x_part)
        return x, y

    def labels_of(self, rows: slice | None = None) -> np.ndarray:
        """Rows `rows`' int8 labels alone (a byte a label: what a matrix built from `blocks` needs kept whole)."""
        out = [_own(ray.get(ref)[1], share) for ref, share in self._overlaps(rows)]
        return np.concatenate(out) if out else np.empty((0, self.labels), dtype=np.int8)


def _own(array: np.ndarray, share: slice | np.ndarray) -> np.ndarray:
    """`array`'s rows `share` as this process's own copy: a slice of the store's object is a view to copy, drawn
    rows (`Rows.sampled`) are a copy already."""
    taken = array[share]
    return taken.copy() if type(share) is slice else taken


class _Blocks(xgb.DataIter):
    """xgboost reads a `Rows` slice a part at a time (it passes over them twice: the quantile sketch, then the
    bins), so that no process holds the slice's float32 inputs whole, only xgboost's binned matrix of them."""

    def __init__(self, rows: Rows, span: slice | None, names: list[str], types: list[str], cache_prefix: str | None):
        self._rows, self._span, self._names, self._types = rows, span, names, types
        self._it: Iterator[tuple[np.ndarray, np.ndarray]] | None = None
        super().__init__(cache_prefix=cache_prefix, release_data=True)

    def next(self, input_data: Callable[..., None]) -> bool:
        if self._it is None:
            self._it = self._rows.blocks(self._span)
        block = next(self._it, None)
        if block is None:
            return False
        input_data(data=block[0], feature_names=self._names, feature_types=self._types)
        return True

    def reset(self) -> None:
        self._it = None


def quantile_matrix(
    rows: Rows,
    span: slice | None,
    data: dict[str, Any],
    *,
    ref: xgb.DMatrix | None = None,
    cache_dir: str | None = None,
    name: str = "pages",
) -> xgb.DMatrix:
    """xgboost's binned matrix of a `Rows` slice, built a part at a time (no labels: `set_label` per score). With
    `cache_dir` its pages go to files there (named from `name`: one name a matrix) and are read back a page at a
    time while boosting (xgboost's external memory: memory per training row of a few gradients, not the row's bins;
    slower), else they stay in memory. Both give the trees a whole-array QuantileDMatrix gives
    (tests/model/test_training_rows.py)."""
    names, types = data["feature_names"], data["feature_types"]
    if cache_dir is None:
        return xgb.QuantileDMatrix(_Blocks(rows, span, names, types, None), ref=ref, enable_categorical=True)
    blocks = _Blocks(rows, span, names, types, str(Path(cache_dir) / name))
    return xgb.ExtMemQuantileDMatrix(blocks, ref=ref, enable_categorical=True)


@contextlib.contextmanager
def matrix_cache(rows: int, external_memory_rows: int) -> Iterator[str | None]:
    """A folder on this node's disk for a matrix's pages when it has `external_memory_rows` rows or more (0: never),
    removed after; else None (the matrix stays in memory)."""
    if not external_memory_rows or rows < external_memory_rows:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="vs-xgb-pages-") as folder:
        yield folder


def fit_fold(
    train: Rows,
    test: Rows,
    data: dict[str, Any],
    params: dict,
    rounds: int,
    kinds: dict[str, int],
    external_memory_rows: int = 0,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """One rolling fold, single-process xgboost (a Ray task, so that the driver never holds the fold's rows):
    kind -> (the test rows' labels, the predictions of a model fitted on `train` with label column `kinds[kind]`).

    The training rows go into xgboost's binned matrix a part at a time (`quantile_matrix`, on disk from
    `external_memory_rows` rows), the test rows are predicted a part at a time: the task holds neither slice's
    inputs whole. The sketch does not depend on the labels, so every kind's fit shares the matrix (the same trees
    as `training.pipeline.local_fit`'s, tests/model/test_training_rows.py)."""
    kwargs = {"feature_names": data["feature_names"], "feature_types": data["feature_types"]}
    y = train.labels_of()
    out = {}
    with matrix_cache(len(train), external_memory_rows) as cache_dir:
        dtrain = quantile_matrix(train, None, data, cache_dir=cache_dir)
        boosters = {}
        for kind, column in kinds.items():
            dtrain.set_label(y[:, column].astype(np.float32))
            boosters[kind] = xgb.train(params, dtrain, num_boost_round=rounds)
        del dtrain
    predictions: dict[str, list[np.ndarray]] = {kind: [] for kind in kinds}
    test_labels = []
    for x_test, y_test in test.blocks():
        dtest = xgb.DMatrix(x_test, enable_categorical=True, **kwargs)
        for kind, booster in boosters.items():
            predictions[kind].append(booster.predict(dtest))
        test_labels.append(y_test)
    y_test = np.concatenate(test_labels) if test_labels else np.empty((0, test.labels), dtype=np.int8)
    for kind, column in kinds.items():
        p = predictions[kind]
        out[kind] = (y_test[:, column].copy(), np.concatenate(p) if p else np.empty(0, dtype=np.float32))
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
    # The worker's block of rows, read a part at a time out of the store's parts (the driver never joins them). The
    # quantile sketch (the collective merges it across workers) is done once here and shared by every score's fit:
    # only labels change.
    train, valid = config["train"], config["valid"]
    rows, valid_rows = _shard(len(train), rank, size), _shard(len(valid), rank, size)
    y_train, y_valid = train.labels_of(rows), valid.labels_of(valid_rows)
    placement = _worker_group_placement()
    boosters, final = {}, {}
    with matrix_cache(rows.stop - rows.start, config["external_memory_rows"]) as cache_dir:
        dtrain = quantile_matrix(train, rows, config, cache_dir=cache_dir)
        # The validation shard (a share of the calibration cutoff's lots) goes to disk with the training shard.
        dvalid = quantile_matrix(valid, valid_rows, config, ref=dtrain, cache_dir=cache_dir, name="valid")
        for kind, column in config["kinds"].items():
            dtrain.set_label(y_train[:, column].astype(np.float32))
            dvalid.set_label(y_valid[:, column].astype(np.float32))
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
        del dtrain, dvalid
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
            "external_memory_rows": shape.external_memory_rows,
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
