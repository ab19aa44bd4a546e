"""A Tune sweep whose Train workers span two nodes, one of them lost mid-trial: the trial's run fails, Tune starts
the trial again on the nodes left (and one added), the sweep completes, and no placement group stays reserved.
Full size only (`make multinode`): about four minutes of process starts on a loaded 2-core machine."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import ray

from tests.model.test_sweep import _fit_data
from tests.multinode.conftest import MultiNodeRay, full_size, wait_until
from training import distributed
from training.config import load_training_settings

pytestmark = [pytest.mark.integration, pytest.mark.multinode]


def worker_groups() -> dict[str, dict[str, Any]]:
    """Ray Train worker groups (two one-CPU bundles), by placement group id; Tune's own trial groups have one."""
    return {
        key: group
        for key, group in ray.util.placement_group_table().items()
        if len(group["bundles"]) == 2 and all(b.get("CPU") == 1 for b in group["bundles"].values())
    }


def test_a_trial_that_loses_a_worker_node_is_retried_and_the_sweep_completes(
    multinode: MultiNodeRay, tmp_path: Path
) -> None:
    if not full_size():
        pytest.skip("the sweep's node loss runs with VS_MULTINODE=full (make multinode)")
    for name in ("node_a", "node_b"):
        multinode.add_node(name, cpus=1)  # one worker each: a two-worker run must span both
    settings = load_training_settings(
        workers=2, cpus_per_worker=1, num_boost_round=4000, report_every=50, max_concurrent_trials=1
    ).model_copy(update={"search_space": {}, "asha": {"grace_period": 200, "reduction_factor": 2}})
    result: list[distributed.SweepResult] = []
    failure: list[BaseException] = []

    def sweep() -> None:
        try:
            result.append(distributed.sweep(_fit_data(), settings, tmp_path, "multinode", samples=1))
        except BaseException as error:  # handed to the test's thread
            failure.append(error)

    thread = threading.Thread(target=sweep, daemon=True)
    thread.start()

    def spanning_group() -> str | None:
        for key, group in worker_groups().items():
            if group["state"] == "CREATED" and len(set(group["bundles_to_node_id"].values())) == 2:
                return key
        return None

    first = wait_until(spanning_group, 600, "a Train worker group spanning both nodes")
    multinode.remove_node("node_b")
    multinode.add_node("node_c", cpus=1)  # where the retried trial's second worker goes
    thread.join(1800)
    assert not thread.is_alive(), "the sweep did not finish"
    assert not failure, failure
    (done,) = result
    assert done.trials == 1 and done.trials_stopped_early == 0
    assert done.booster.num_boosted_rounds() == 4000
    groups = worker_groups()
    assert len(groups) >= 2 and first in groups  # the lost run's group and the retry's
    assert {key for key, group in groups.items() if group["state"] != "REMOVED"} == set()
