"""The private Ray APIs of training/ray_private.py still take effect on the pinned Ray, and the public path that
replaces them on any other version trains and sweeps.

Each override is checked by what it does in a real run, so a Ray that stops calling it (or calls it differently)
fails here rather than silently costing processes or settings."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import ray
from ray.train import UserCallback
from ray.train.xgboost import XGBoostTrainer

from tests.conftest import REPO_ROOT
from tests.model.test_sweep import _fit_data, _held_placement_groups
from training import distributed, ray_private, trial
from training.config import load_training_settings

pytestmark = pytest.mark.integration

SETTINGS_ENV = ("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S")


def test_the_fenced_ray_version_is_the_one_the_lock_pins() -> None:
    pinned = re.search(r"^ray==(\S+)$", (REPO_ROOT / "requirements.lock").read_text(), re.MULTILINE)
    assert pinned is not None
    assert pinned.group(1) == ray_private.PINNED_RAY


def test_the_installed_ray_is_the_pinned_one_so_the_overrides_are_in_use() -> None:
    assert ray.__version__ == ray_private.PINNED_RAY
    assert ray_private.SUPPORTED


def _recorder(path: Path) -> UserCallback:
    """A callback run by the Train controller that writes where it runs and the Train settings it sees."""

    class Record(UserCallback):  # local, so it is pickled by value into the controller
        def after_report(self, run_context, metrics, checkpoint) -> None:
            seen = {name: os.environ.get(name) for name in SETTINGS_ENV}
            seen["node"] = ray.get_runtime_context().get_node_id()
            path.write_text(json.dumps(seen))

    return Record()


def _shape(**changes) -> trial.RunShape:
    base = {"workers": 1, "cpus_per_worker": 1, "num_boost_round": 10, "report_every": 5}
    return trial.RunShape(**base, health_check_interval_s=0.3, **changes)


def test_a_lean_run_leaves_out_two_helper_actors_and_gives_only_its_controller_the_train_settings(
    ray_cluster, tmp_path: Path
) -> None:
    data = _fit_data()
    seen = tmp_path / "seen.json"
    run = trial.trainer(
        data.for_workers(), {"objective": "binary:logistic"}, _shape(), tmp_path, "lean", [_recorder(seen)]
    )
    assert isinstance(run, ray_private.LeanXGBoostTrainer)
    result = run.fit()
    assert result.checkpoint is not None
    # _create_default_callbacks is still called, and Ray still creates both helpers for it to drop
    assert sorted(run.dropped_callbacks) == sorted(ray_private.DROPPED_CALLBACKS)
    # _initialize_and_run_controller still starts the controller: with the run's settings, on this node
    controller = json.loads(seen.read_text())
    assert controller["RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"] == "0.3"
    assert controller["RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S"] == "600"
    assert controller["node"] == ray.get_runtime_context().get_node_id()
    # and nothing was written to this process's environment
    assert all(name not in os.environ for name in SETTINGS_ENV)


def test_the_public_path_runs_ray_s_own_trainer_with_its_defaults(ray_cluster, tmp_path: Path) -> None:
    data = _fit_data()
    seen = tmp_path / "seen.json"
    run = trial.trainer(
        data.for_workers(),
        {"objective": "binary:logistic"},
        _shape(private_ray=False),
        tmp_path,
        "public",
        [_recorder(seen)],
    )
    assert type(run) is XGBoostTrainer
    assert run.fit().checkpoint is not None
    assert json.loads(seen.read_text())["RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"] is None


def test_a_sweep_on_the_public_path_reports_through_tune_and_leaves_no_placement_group(
    ray_cluster, tmp_path: Path
) -> None:
    limits = {"workers": 1, "num_boost_round": 20, "report_every": 5, "max_concurrent_trials": 1}
    settings = load_training_settings(**limits, private_ray=False).model_copy(
        update={"search_space": {"eta": {"grid": [0.5, 0.1]}}}
    )
    held_before = _held_placement_groups()
    result = distributed.sweep(_fit_data(), settings, tmp_path, "public", samples=1)
    assert result.trials == 2
    assert result.best_metrics["final"] == 1
    assert result.booster.num_boosted_rounds() == 20
    assert _held_placement_groups() - held_before == set()


def test_the_loopback_channel_refuses_a_controller_on_another_node(ray_cluster) -> None:
    callback = trial.ReportToTrial(("127.0.0.1", 9), b"key", node_id="00" * 28)
    with pytest.raises(RuntimeError, match="not on its Tune trial's node"):
        callback.after_report(None, [{"rounds": 1}], None)


def test_another_ray_version_imports_nothing_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray, "__version__", "2.61.0")
    assert ray_private._private_imports() is None
