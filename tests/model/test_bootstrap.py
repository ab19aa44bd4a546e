"""Bootstrap intervals of the AUC and of the paired AUC difference that gates promotion."""

from __future__ import annotations

import numpy as np

from sentinel.risk import metrics
from sentinel.risk.bootstrap import _Ranked, auc_intervals


def _data(n: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(float)
    strong = y * 1.0 + rng.normal(0, 1, n)
    weak = np.round(y * 0.5 + rng.normal(0, 1, n), 1)  # ties on purpose
    return y, strong, weak


def test_the_weighted_auc_is_the_auc_of_the_rows_repeated_by_their_weights():
    y, _, weak = _data(2000)
    w = np.random.default_rng(1).integers(0, 4, y.size).astype(float)
    repeated = np.repeat(np.arange(y.size), w.astype(int))
    assert _Ranked(y, weak).auc(np.ones(y.size)) == metrics.roc_auc(y, weak)
    assert abs(_Ranked(y, weak).auc(w) - metrics.roc_auc(y[repeated], weak[repeated])) < 1e-12


def test_a_clearly_better_scorer_clears_the_interval_and_an_equal_one_does_not():
    y, strong, weak = _data(3000)
    noise = np.random.default_rng(9).normal(0, 0.01, y.size)
    intervals, gaps = auc_intervals(
        y, {"strong": strong, "same": weak + noise, "weak": weak}, reference="weak", resamples=300
    )
    for interval in intervals.values():
        assert interval.low < interval.estimate < interval.high
    assert gaps["strong"].low > 0.05
    assert gaps["same"].low <= 0 <= gaps["same"].high


def test_the_intervals_are_reproducible_for_a_seed():
    y, strong, weak = _data(1000)
    first = auc_intervals(y, {"a": strong, "b": weak}, reference="b", seed=4)
    assert first == auc_intervals(y, {"a": strong, "b": weak}, reference="b", seed=4)
