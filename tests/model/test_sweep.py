"""A Tune sweep of Ray Train runs gives every trial its workers, also after ASHA has cut a trial short."""

from __future__ import annotations

import signal
import time

import numpy as np
import pandas as pd
import pytest
import ray
import ray._private.state

from sentinel.risk.dataset import FeatureSpec
from training import distributed
from training.config import load_training_settings

pytestmark = pytest.mark.integration


def _fit_data() -> distributed.FitData:
    rng = np.random.default_rng(7)
    n = 3000
    frame = pd.DataFrame({"signal": rng.normal(size=n), "noise": rng.normal(size=n)})
    frame["borough"] = rng.choice(["1", "2"], n)
    y = (frame["signal"] + 0.5 * rng.normal(size=n) > 0).to_numpy()
    spec = FeatureSpec(numeric=("signal", "noise"), categories={"borough": ("1", "2")})
    shared = distributed.FitData.put(spec, frame.iloc[:2000], frame.iloc[2000:], {"overall": (y[:2000], y[2000:])})
    return shared.with_kinds(("overall",))


def _held_placement_groups() -> set[str]:
    return {key for key, group in ray.util.placement_group_table().items() if group["state"] != "REMOVED"}


def test_a_trial_cut_by_asha_leaves_no_workers_reserved(ray_cluster, tmp_path):
    # Grid order: the good learning rate first, so ASHA cuts the second trial at its first rung. Tune ends a cut
    # trial by killing it, which used to leave its Train workers' CPUs reserved until the driver exited (the next
    # trial then waited for them forever on a 2-CPU machine).
    # One trial at a time, so the bad trial always meets the good one's result at the rung.
    limits = {"workers": 1, "num_boost_round": 200, "report_every": 5, "max_concurrent_trials": 1}
    settings = load_training_settings(**limits).model_copy(
        # configs/tune.yaml's space would be merged into one given to the constructor
        update={"asha": {"grace_period": 2, "reduction_factor": 2}, "search_space": {"eta": {"grid": [0.5, 0.002]}}}
    )
    held_before = _held_placement_groups()
    heard: list[distributed.TrialProgress] = []
    result = distributed.sweep(_fit_data(), settings, tmp_path, "cut", samples=1, on_trial=heard.append)
    assert result.trials == 2
    assert result.trials_stopped_early == 1
    assert result.best_params["eta"] == 0.5
    assert _held_placement_groups() - held_before == set()
    # The CLI's per-trial progress bars hear each trial start, report its rounds and end the way it ended.
    ends = {p.config["eta"]: p for p in heard if p.state != "running"}
    assert ends[0.5].state == "finished" and ends[0.5].rounds == 200 == ends[0.5].max_rounds
    assert ends[0.002].state == "stopped early" and 0 < ends[0.002].rounds < 200
    assert any(p.state == "running" and p.rounds > 0 and p.metric is not None for p in heard)


def _alive(actor_class: str) -> set[str]:
    """The ids of this class's live actors. The GCS's actor table: Ray's State API needs the dashboard, which the
    tests' Ray does not start."""
    actors = ray._private.state.actors().items()
    return {aid for aid, a in actors if a["ActorClassName"] == actor_class and a["State"] == "ALIVE"}


def test_a_fit_from_the_main_thread_ends_its_train_controller(ray_cluster, tmp_path):
    # Ray Train's fit() leaves a SIGINT handler that holds the run's controller, which then outlived the run.
    handler = signal.getsignal(signal.SIGINT)
    settings = load_training_settings(workers=1, num_boost_round=5, report_every=5)
    # The session's Ray is shared: only the controller this fit starts counts (others' may still be ending).
    before = _alive("TrainController")
    boosters = distributed.fit(_fit_data(), settings.params(), settings, tmp_path, "ends-its-controller")
    assert boosters["overall"].num_boosted_rounds() == 5
    assert signal.getsignal(signal.SIGINT) is handler
    deadline = time.monotonic() + 30  # the actor ends when Ray sees its last handle go
    while _alive("TrainController") - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive("TrainController") - before
