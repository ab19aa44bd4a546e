"""Every use of a private Ray API in the project, in one place, for the Ray version pinned in requirements.lock.

Two overrides of Ray Train V2's `DataParallelTrainer`, both for the cost of a training run on a small machine:

- `_create_default_callbacks` without the dataset manager (the data are arrays in the object store, not Ray
  Datasets) and the detached PlacementGroupCleaner (it polls the State API, absent without the dashboard, and
  outlived every trial ASHA cut; `ReleaseTrainPlacementGroups` frees a cut trial's group instead). Each is one more
  process importing Ray Train per run, seconds of CPU per trial on 2 cores (benchmarks/RESULTS.md, "Risk model").
- `_initialize_and_run_controller` giving the Train controller its settings (health-check interval, worker start
  timeout, preemption watcher) in the controller actor's own runtime environment. Ray reads them from the
  environment of the process that calls `fit()`, which would mean writing the environment of a whole CLI or
  benchmark process; here nothing outside the controller and its workers sees them. The override keeps Ray's
  placement of the controller on the caller's node, which `training.trial.ReportToTrial` relies on (a loopback
  socket from the controller to the Tune trial).

With any other Ray version (`SUPPORTED` is false) nothing here is imported: runs use the public `XGBoostTrainer`,
Ray's defaults for the controller (an operator can still set `RAY_TRAIN_*` variables in the environment of the
processes), and Tune's own `TuneReportCallback` to report to the trial. tests/model/test_ray_private.py checks
that each override still takes effect on the pinned version and that the public path trains and sweeps; an
upgrade of Ray is a deliberate change of `PINNED_RAY` and of the lock together.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import ray
from ray.train.xgboost import XGBoostTrainer

log = logging.getLogger(__name__)

PINNED_RAY = "2.60.0"
DROPPED_CALLBACKS = ("DatasetsCallback", "PlacementGroupCleanerCallback")


def _private_imports() -> dict[str, Any] | None:
    """The private names the overrides use, or None when this Ray is not the pinned one or lacks any of them."""
    if ray.__version__ != PINNED_RAY:
        return None
    try:
        from ray._common.constants import RAY_WARN_BLOCKING_GET_INSIDE_ASYNC_ENV_VAR
        from ray._raylet import RAY_NODE_ID_KEY
        from ray.train.v2._internal.callbacks.datasets import DatasetsCallback
        from ray.train.v2._internal.callbacks.placement_group_callback import PlacementGroupCleanerCallback
        from ray.train.v2._internal.constants import (
            DEFAULT_RAY_WARN_BLOCKING_GET_INSIDE_ASYNC_VALUE,
            get_env_vars_to_propagate,
        )
        from ray.train.v2._internal.execution.controller import TrainController
    except ImportError:  # a pinned version without them is a broken install: say so, run on the public path
        log.exception("Ray %s lacks a private name the training overrides use; using public APIs", ray.__version__)
        return None
    return {
        "dropped": (DatasetsCallback, PlacementGroupCleanerCallback),
        "node_id_key": RAY_NODE_ID_KEY,
        "warn_blocking_env": (
            RAY_WARN_BLOCKING_GET_INSIDE_ASYNC_ENV_VAR,
            DEFAULT_RAY_WARN_BLOCKING_GET_INSIDE_ASYNC_VALUE,
        ),
        "env_to_propagate": get_env_vars_to_propagate,
        "controller": TrainController,
    }


_PRIVATE = _private_imports()
SUPPORTED = _PRIVATE is not None
if not SUPPORTED:
    log.warning("Ray %s is not the pinned %s: training uses public Ray APIs only", ray.__version__, PINNED_RAY)


class LeanXGBoostTrainer(XGBoostTrainer):
    """XGBoostTrainer with the two overrides above. Build it through `xgboost_trainer`, which falls back to the
    public class when this Ray is not the pinned one."""

    def __init__(self, *args: Any, controller_env: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.controller_env = dict(controller_env)
        self.dropped_callbacks: list[str] = []  # what the last fit() left out, for the tests that it still does

    def _create_default_callbacks(self) -> list:
        assert _PRIVATE is not None
        callbacks = super()._create_default_callbacks()
        unused = _PRIVATE["dropped"]
        self.dropped_callbacks = [type(c).__name__ for c in callbacks if isinstance(c, unused)]
        return [c for c in callbacks if not isinstance(c, unused)]

    def _initialize_and_run_controller(self, **controller_init_kwargs: Any):
        """Ray 2.60's own body with `controller_env` added to the controller's runtime environment."""
        assert _PRIVATE is not None
        env_vars = {**_PRIVATE["env_to_propagate"](), **self.controller_env}
        env_vars.setdefault(*_PRIVATE["warn_blocking_env"])
        controller_class = ray.remote(
            num_cpus=0,
            label_selector={_PRIVATE["node_id_key"]: ray.get_runtime_context().get_node_id()},
            runtime_env={"env_vars": env_vars},
        )(_PRIVATE["controller"])
        controller = controller_class.remote(**controller_init_kwargs)
        if threading.current_thread() is threading.main_thread():
            self._register_sigint_handler(controller)
        ray.get(controller.run.remote())
        return ray.get(controller.get_result.remote())


def xgboost_trainer(*args: Any, controller_env: dict[str, str], private: bool = SUPPORTED, **kwargs: Any):
    """A Train run's trainer: the lean one on the pinned Ray, else the public XGBoostTrainer (which gets Ray's
    defaults for what `controller_env` sets)."""
    if private and SUPPORTED:
        return LeanXGBoostTrainer(*args, controller_env=controller_env, **kwargs)
    return XGBoostTrainer(*args, **kwargs)


def tune_report_callback():
    """The public way a Train run inside a Tune trial reports to it: a queue actor the trial polls."""
    from ray.tune.integration.ray_train import TuneReportCallback

    return TuneReportCallback()
