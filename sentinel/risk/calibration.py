"""Calibration and percentiles: from a model's raw probability to a calibrated probability and a 0-100 score.

The calibrator is an isotonic fit kept as its breakpoints, so applying it is `np.interp` (no sklearn object is
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
    """A non-decreasing map from raw probability to observed frequency, fitted on a held-out slice."""
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
    model.fit(np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return Calibrator(x=tuple(float(v) for v in model.X_thresholds_), y=tuple(float(v) for v in model.y_thresholds_))


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
