"""What a sweep hands Tune when it builds the Tuner (no Ray needed): Tune pickles the run config, its callbacks
and stopper included, into the experiment's folder, so that the experiment can be restored."""

from __future__ import annotations

import threading
from pathlib import Path

import ray.tune

from cluster.cli_model import TrialBars
from training import distributed


def test_the_clis_progress_bars_and_a_stop_event_do_not_stop_the_tuner_from_being_built(tmp_path: Path) -> None:
    # Both hold a lock, which cannot be pickled: `vsentinel train --tune` failed there before its first trial.
    stop = threading.Event()
    listener = distributed.ReportTrials(TrialBars(shown=False).update, max_rounds=10, metric="valid-logloss")
    run_config = ray.tune.RunConfig(
        name="built", storage_path=str(tmp_path), callbacks=[listener], stop=distributed.StopWhenSet(stop)
    )
    ray.tune.Tuner(lambda config: None, run_config=run_config)
    assert (tmp_path / "built" / "tuner.pkl").is_file()
    # The objects Tune runs with are the ones given: the listener still hears, the stopper still stops.
    assert listener._on_trial is not None
    assert not run_config.stop.stop_all()
    stop.set()
    assert run_config.stop.stop_all()
