"""A Tune sweep whose Train workers span two nodes, one of them lost mid-trial: the trial's run fails, Tune starts
the trial again on the nodes left (and one added), the sweep completes, and no placement group stays reserved.

Short (`make test`): the node goes at the first attempt's first report, and the run waits meanwhile (Tune asks a
trial for its next report only once its callbacks have returned, and the Train run's reports wait for that), so
the node is lost while the workers train whatever the load, and a short run proves the retry. Full (`make
multinode`): the node goes as soon as the worker group is placed, mostly while its workers still start; Ray
Train's controller then starts a new worker group itself (it retries a failed start without limit) and the trial
goes on, or, where the workers had started, the run fails and Tune retries the trial. Either way a second worker
group runs on the nodes left, and each attempt boosts for longer. Both run against a deadline that fails naming
the stage the test was in, and whichever way the test ends the sweep is stopped and its placement groups
removed: a sweep left running in the driver kept the cluster's shutdown from completing
(tests/multinode/conftest.py)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from ray.util.placement_group import PlacementGroup

from tests.model.test_sweep import _fit_data
from tests.multinode.conftest import MultiNodeRay, full_size, wait_until
from training import distributed
from training.config import load_training_settings

# Well inside the suite's 600 s per-test timeout (pyproject.toml), leaving time to stop the sweep; the full size
# gets its own, longer timeout. Times measured: benchmarks/RESULTS.md, "Multi-node tests (issue 21)".
SHORT_DEADLINE_S = 360.0
FULL_DEADLINE_S = 1500.0
STOP_S = 120.0  # for a stopped sweep to end its trials
CPUS = 2  # per node and per worker: the other short tests' nodes are reused, and a run of two workers spans two

pytestmark = [
    pytest.mark.integration,
    pytest.mark.multinode,
    pytest.mark.timeout(FULL_DEADLINE_S + 2 * STOP_S if full_size() else 600),
]


class Deadline:
    """One deadline for the whole test, and the stage it is in: a timeout says where it stood."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()
        self.stages: list[tuple[float, str]] = []

    @property
    def stage(self) -> str:
        return self.stages[-1][1] if self.stages else "starting"

    def enter(self, stage: str) -> None:
        self.stages.append((time.monotonic() - self.started, stage))

    def left(self) -> float:
        return max(0.0, self.started + self.seconds - time.monotonic())

    def timeline(self) -> str:
        return "; ".join(f"{at:.0f} s: {stage}" for at, stage in self.stages)

    def wait(self, check: Callable[[], Any]) -> Any:
        return wait_until(check, self.left(), self.stage)


def worker_groups() -> dict[str, dict[str, Any]]:
    """Ray Train worker groups (two bundles of CPUS each), by placement group id; Tune's trial groups have one."""
    return {
        key: group
        for key, group in ray.util.placement_group_table().items()
        if len(group["bundles"]) == 2 and all(b.get("CPU") == CPUS for b in group["bundles"].values())
    }


def spanning_group() -> str | None:
    for key, group in worker_groups().items():
        if group["state"] == "CREATED" and len(set(group["bundles_to_node_id"].values())) == 2:
            return key
    return None


@contextlib.contextmanager
def sweep_in_thread(
    settings: Any, storage: Path, on_trial: Callable[[distributed.TrialProgress], None], release: threading.Event
) -> Iterator[tuple[threading.Thread, dict[str, Any]]]:
    """The sweep in a thread of this driver; its result or error in the dict. On the way out, however the test
    ended: the held run released (`release`), the sweep stopped and waited for, and every worker group made
    since the start removed."""
    before = set(worker_groups())
    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def sweep() -> None:
        try:
            outcome["result"] = distributed.sweep(
                _fit_data(), settings, storage, "multinode", samples=1, on_trial=on_trial, stop=stop
            )
        except BaseException as error:  # handed to the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=sweep, name="sweep", daemon=True)
    thread.start()
    try:
        yield thread, outcome
    finally:
        release.set()
        stop.set()
        thread.join(STOP_S)
        for key, group in worker_groups().items():
            if key not in before and group["state"] != "REMOVED":
                ray.util.remove_placement_group(PlacementGroup(ray.PlacementGroupID(bytes.fromhex(key))))
        assert not thread.is_alive(), f"the sweep did not stop within {STOP_S:.0f} s of being asked to"


def test_a_trial_that_loses_a_worker_node_is_retried_and_the_sweep_completes(
    multinode: MultiNodeRay, tmp_path: Path
) -> None:
    full = full_size()
    deadline = Deadline(FULL_DEADLINE_S if full else SHORT_DEADLINE_S)
    deadline.enter("starting node_a and node_b")
    for name in ("node_a", "node_b"):
        multinode.add_node(name, cpus=CPUS)  # one worker each: a two-worker run must span both
    rounds = 4000 if full else 100
    settings = load_training_settings(
        workers=2, cpus_per_worker=CPUS, num_boost_round=rounds, report_every=50, max_concurrent_trials=1
    ).model_copy(update={"search_space": {}, "asha": {"grace_period": 200, "reduction_factor": 2}})
    heard: list[tuple[float, distributed.TrialProgress]] = []  # (seconds into the test, what Tune reported)
    first_report, node_lost = threading.Event(), threading.Event()

    def on_trial(progress: distributed.TrialProgress) -> None:
        heard.append((time.monotonic() - deadline.started, progress))
        if not full and progress.rounds and not first_report.is_set():
            first_report.set()
            node_lost.wait(deadline.left())  # holds the run (see the module's docstring)

    try:
        with sweep_in_thread(settings, tmp_path, on_trial, node_lost) as (thread, outcome):
            if full:
                deadline.enter("the first attempt's worker group placed on node_a and node_b")
                first = deadline.wait(spanning_group)
            else:
                deadline.enter("the first attempt's first report, its workers on node_a and node_b")
                deadline.wait(lambda: first_report.is_set() or not thread.is_alive())
                assert first_report.is_set(), f"the sweep ended before its first report: {outcome}"
                first = spanning_group()
                assert first, f"the first attempt's workers do not span node_a and node_b: {worker_groups()}"
            deadline.enter("removing node_b")
            multinode.remove_node("node_b")
            deadline.enter("starting node_c")
            multinode.add_node("node_c", cpus=CPUS)  # where the retried trial's second worker goes
            node_lost.set()
            deadline.enter("the trial retried on node_a and node_c, and the sweep finishing")
            thread.join(deadline.left())
            assert not thread.is_alive(), f"the sweep did not finish within {deadline.seconds:.0f} s"
            deadline.enter("checking the result")
            assert "error" not in outcome, outcome["error"]
            done = outcome["result"]
            assert done.trials == 1 and done.trials_stopped_early == 0
            assert done.booster.num_boosted_rounds() == rounds
            groups = worker_groups()
            assert first in groups and len(groups) >= 2, groups  # the lost run's group and the retry's
            assert {key for key, group in groups.items() if group["state"] != "REMOVED"} == set(), groups
    except Exception as error:
        raise AssertionError(
            f"in stage '{deadline.stage}': {error}\nstages: {deadline.timeline()}\nreports: {reports(heard)}"
        ) from error
    print(f"stages: {deadline.timeline()}\nreports: {reports(heard)}")


def reports(heard: list[tuple[float, distributed.TrialProgress]]) -> str:
    return ", ".join(f"{at:.0f} s: {progress.state} {progress.rounds}" for at, progress in heard)
