"""Calibration and percentiles: from a model's raw probability to a calibrated probability and a 0-100 score.

The calibrator is an isotonic fit kept as its breakpoints, so applying it is `np.interp` (no fitted estimator object is
pickled into the model artifact). Scores are percentiles of the raw probability within a reference population
(every building at the calibration cutoff): the raw probability ranks exactly like the calibrated one but has no
isotonic flat steps, so nearby buildings keep distinct scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REFERENCE_POINTS = 1001


@dataclass(frozen=True, slots=True)
class Calibrator:
    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, p: np.ndarray) -> np.ndarray:
        return np.clip(np.interp(np.asarray(p, dtype=np.float64), self.x, self.y), 0.0, 1.0)

    def to_dict(self) -> dict:
        return {"x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_dict(cls, data: dict) -> Calibrator:
        return cls(x=tuple(data["x"]), y=tuple(data["y"]))


def fit_isotonic(p: np.ndarray, y: np.ndarray) -> Calibrator:
    """A non-decreasing map from raw probability to observed frequency, fitted on a held-out slice.

    The same breakpoints as scikit-learn's `IsotonicRegression(y_min=0, y_max=1, increasing=True)` (checked on the
    benchmark's calibration slices): ties in p averaged, scipy's pool-adjacent-violators fit, points inside a flat
    step dropped. Not scikit-learn itself: with it installed, every process that imports xgboost (a Tune trial, a
    Train controller and each worker) also imports scikit-learn and scipy.stats, ~1.5-2 CPU s each.
    """
    from scipy.optimize import isotonic_regression

    x, target = np.asarray(p, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    order = np.lexsort((target, x))
    x, target = x[order], target[order]
    starts = _tie_starts(x)
    counts = np.diff(np.append(starts, len(x)))
    fitted = np.clip(isotonic_regression(np.add.reduceat(target, starts) / counts, weights=counts).x, 0.0, 1.0)
    x = x[starts]
    keep = np.ones(len(fitted), dtype=bool)
    keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    return Calibrator(x=tuple(float(v) for v in x[keep]), y=tuple(float(v) for v in fitted[keep]))


def _tie_starts(x: np.ndarray) -> np.ndarray:
    """Where each group of tied values starts in sorted x: a value within float64 resolution of its group's first
    value joins that group (scikit-learn's rule, so that near-equal probabilities count as one point)."""
    eps = np.finfo(np.float64).resolution
    gaps = np.diff(x)
    if not np.any((gaps > 0) & (gaps < eps)):
        return np.flatnonzero(np.r_[True, gaps >= eps])
    starts, first = [0], x[0]
    for i in range(1, len(x)):
        if x[i] - first >= eps:
            starts.append(i)
            first = x[i]
    return np.asarray(starts)


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Quantiles of the reference population's raw probabilities at 0, 0.1, ..., 100 %."""

    quantiles: tuple[float, ...]

    @classmethod
    def of(cls, p: np.ndarray) -> Percentiles:
        q = np.quantile(np.asarray(p, dtype=np.float64), np.linspace(0.0, 1.0, REFERENCE_POINTS))
        return cls(quantiles=tuple(float(v) for v in q))

    def score(self, p: np.ndarray) -> np.ndarray:
        """0-100: the share of the reference population at or below p (ties resolved to the top of the tie)."""
        q = np.asarray(self.quantiles)
        p = np.asarray(p, dtype=np.float64)
        at_or_below = np.searchsorted(q, p, side="right") - 1
        share = np.clip(at_or_below, 0, REFERENCE_POINTS - 1) / (REFERENCE_POINTS - 1)
        share = np.where(p < q[0], 0.0, share)
        return np.clip(np.rint(share * 100), 0, 100).astype(np.int16)

    def to_dict(self) -> dict:
        return {"quantiles": list(self.quantiles)}

    @classmethod
    def from_dict(cls, data: dict) -> Percentiles:
        return cls(quantiles=tuple(data["quantiles"]))
