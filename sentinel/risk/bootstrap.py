"""Bootstrap intervals for ROC AUC, and for the difference of two scorers' AUCs on the same buildings (paired).

Every resample draws the same buildings for both scorers, so the interval of the difference reflects how much the
ranking advantage holds up across plausible test sets, not just the spread of each AUC. Each resample is a vector
of multinomial weights over one fixed sort order, so a resample costs O(n), not a sort.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

RESAMPLES = 400
LEVEL = 0.95


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float
    low: float
    high: float

    def to_dict(self) -> dict:
        return {k: (None if math.isnan(v) else round(v, 4)) for k, v in asdict(self).items()}

    def __str__(self) -> str:
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"


class _Ranked:
    """One scorer's sort order over the rows, with tied scores grouped, for weighted AUCs."""

    def __init__(self, y: np.ndarray, p: np.ndarray) -> None:
        self.order = np.argsort(p, kind="mergesort")
        sorted_p = p[self.order]
        self.starts = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])
        self.y = y[self.order]

    def auc(self, weights: np.ndarray) -> float:
        """Weighted Mann-Whitney AUC: a (positive, negative) pair counts by the product of their weights."""
        w = weights[self.order]
        pos = np.add.reduceat(w * self.y, self.starts)
        neg = np.add.reduceat(w * (1.0 - self.y), self.starts)
        below = np.cumsum(neg) - neg
        total = pos.sum() * neg.sum()
        return float(np.dot(pos, below + 0.5 * neg) / total) if total else math.nan


def _weights(rng: np.random.Generator, n: int, resamples: int):
    for _ in range(resamples):
        yield np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)


def _interval(estimate: float, draws: list[float], level: float) -> Interval:
    values = np.asarray([d for d in draws if not math.isnan(d)])
    if not values.size:
        return Interval(estimate, math.nan, math.nan)
    tail = (1.0 - level) / 2.0 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(estimate, float(low), float(high))


def auc_intervals(
    y: np.ndarray,
    scorers: dict[str, np.ndarray],
    reference: str | None = None,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
) -> tuple[dict[str, Interval], dict[str, Interval]]:
    """(AUC interval per scorer, interval of AUC(scorer) - AUC(reference) per other scorer), from the same resamples.

    Rows where a scorer is nan (an oracle that does not know a building) are left out of that scorer's AUC and of
    its difference."""
    y = np.asarray(y, dtype=np.float64).ravel()
    ranked, known = {}, {}
    for name, p in scorers.items():
        p = np.asarray(p, dtype=np.float64).ravel()
        known[name] = ~np.isnan(p)
        ranked[name] = _Ranked(y[known[name]], p[known[name]])
    ones = np.ones(y.size)
    estimates = {name: r.auc(ones[known[name]]) for name, r in ranked.items()}
    draws: dict[str, list[float]] = {name: [] for name in ranked}
    diffs: dict[str, list[float]] = {name: [] for name in ranked if reference and name != reference}
    for w in _weights(np.random.default_rng(seed), y.size, resamples):
        aucs = {name: r.auc(w[known[name]]) for name, r in ranked.items()}
        for name, value in aucs.items():
            draws[name].append(value)
        for name in diffs:
            diffs[name].append(aucs[name] - aucs[reference])  # type: ignore[index]
    intervals = {name: _interval(estimates[name], draws[name], level) for name in ranked}
    differences = {
        name: _interval(estimates[name] - estimates[reference], diffs[name], level)  # type: ignore[index]
        for name in diffs
    }
    return intervals, differences
