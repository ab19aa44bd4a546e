"""Evaluation metrics for ranked binary predictions, written out so each number can be checked by hand.

Ties in the scores are handled the way a ranking user sees them: ROC AUC counts a tied (positive, negative) pair as
half a win; "top k %" takes the first ceil(k % of n) rows after a stable sort by descending score, so the result is
deterministic for a given row order.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field

import numpy as np

TOP_FRACTIONS = (0.01, 0.05, 0.10)


def _arrays(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"labels and scores differ in length: {y.shape[0]} != {p.shape[0]}")
    return y, p


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Probability that a random positive outranks a random negative (ties count half); nan if one class is absent."""
    y, p = _arrays(y, p)
    positives = int(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return math.nan
    order = np.argsort(p, kind="mergesort")
    sorted_p = p[order]
    ranks = np.empty(p.size, dtype=np.float64)
    # Average ranks over ties (1-based), the Mann-Whitney form of the AUC.
    _, first, counts = np.unique(sorted_p, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    rank_sum = ranks[y == 1].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


def pr_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Average precision: the mean of the precision at the rank of each positive (tied scores form one step)."""
    y, p = _arrays(y, p)
    positives = y.sum()
    if positives == 0:
        return math.nan
    order = np.argsort(-p, kind="mergesort")
    ys, ps = y[order], p[order]
    true_positives = np.cumsum(ys)
    # Evaluate only at the last row of each group of tied scores, so tie order cannot change the result.
    last_of_group = np.r_[ps[1:] != ps[:-1], True]
    tp = true_positives[last_of_group]
    seen = np.flatnonzero(last_of_group) + 1
    precision = tp / seen
    recall_gain = np.diff(np.r_[0.0, tp]) / positives
    return float(np.sum(precision * recall_gain))


def top_count(n: int, fraction: float) -> int:
    return max(1, math.ceil(n * fraction - 1e-9))


@dataclass(frozen=True, slots=True)
class TopK:
    fraction: float
    rows: int
    true_positives: int
    precision: float
    recall: float
    lift: float


def at_top(y: np.ndarray, p: np.ndarray, fraction: float) -> TopK:
    """Precision, recall and lift (precision over the base rate) among the highest-scored `fraction` of rows."""
    y, p = _arrays(y, p)
    k = top_count(y.size, fraction)
    order = np.argsort(-p, kind="mergesort")
    hits = int(y[order[:k]].sum())
    positives = y.sum()
    base = positives / y.size if y.size else math.nan
    precision = hits / k
    return TopK(
        fraction=fraction,
        rows=k,
        true_positives=hits,
        precision=precision,
        recall=hits / positives if positives else math.nan,
        lift=precision / base if base else math.nan,
    )


def brier(y: np.ndarray, p: np.ndarray) -> float:
    y, p = _arrays(y, p)
    return float(np.mean((p - y) ** 2))


@dataclass(frozen=True, slots=True)
class Band:
    low: float
    high: float
    rows: int
    mean_predicted: float
    observed_rate: float


BAND_EDGES = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 1.0)


def reliability(y: np.ndarray, p: np.ndarray, edges: tuple[float, ...] = BAND_EDGES) -> list[Band]:
    """Observed event rate against the mean predicted probability, per probability band [low, high) (last closed)."""
    y, p = _arrays(y, p)
    bands = []
    for i, (low, high) in enumerate(itertools.pairwise(edges)):
        last = i == len(edges) - 2
        inside = (p >= low) & ((p <= high) if last else (p < high))
        n = int(inside.sum())
        bands.append(
            Band(
                low=low,
                high=high,
                rows=n,
                mean_predicted=float(p[inside].mean()) if n else math.nan,
                observed_rate=float(y[inside].mean()) if n else math.nan,
            )
        )
    return bands


def lift_curve(y: np.ndarray, p: np.ndarray, points: int = 20) -> list[tuple[float, float]]:
    """(share of rows contacted, share of positives found), for the gain/lift chart."""
    y, p = _arrays(y, p)
    order = np.argsort(-p, kind="mergesort")
    found = np.cumsum(y[order])
    total = found[-1] if found.size else 0
    curve = [(0.0, 0.0)]
    for i in range(1, points + 1):
        k = top_count(y.size, i / points)
        curve.append((i / points, float(found[k - 1] / total) if total else math.nan))
    return curve


@dataclass(frozen=True, slots=True)
class Evaluation:
    rows: int
    positives: int
    base_rate: float
    roc_auc: float
    pr_auc: float
    brier: float
    top: list[TopK] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)

    def to_dict(self) -> dict:
        return _finite(asdict(self))

    def at(self, fraction: float) -> TopK:
        return next(t for t in self.top if math.isclose(t.fraction, fraction))


def evaluate(y: np.ndarray, p: np.ndarray, fractions: tuple[float, ...] = TOP_FRACTIONS) -> Evaluation:
    y, p = _arrays(y, p)
    positives = int(y.sum())
    return Evaluation(
        rows=int(y.size),
        positives=positives,
        base_rate=positives / y.size if y.size else math.nan,
        roc_auc=roc_auc(y, p),
        pr_auc=pr_auc(y, p),
        brier=brier(y, p),
        top=[at_top(y, p, f) for f in fractions],
        bands=reliability(y, p),
    )


def _finite(value):
    """JSON has no NaN: nan becomes None, recursively."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
