"""The typical values' medians, found in passes over parts without the rows whole, are numpy's and pandas' to the
bit: odd and even counts, ties, NaNs, negatives, infinities, a column with no value."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from training.medians import medians


def _columns(rng: np.random.Generator, n: int, empty: bool) -> np.ndarray:
    counts = rng.integers(0, 5, n).astype(np.float64)
    scaled = rng.normal(size=n) * 10.0 ** rng.integers(-5, 5)
    ratios = rng.integers(-3, 3, n) / 7.0
    gaps = np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n))
    sparse = np.full(n, np.nan) if empty else np.where(rng.random(n) < 0.05, np.nan, rng.exponential(size=n))
    extremes = np.concatenate([[-0.0, 0.0, np.inf, -np.inf], rng.normal(size=n)])[:n]
    return np.stack([counts, scaled, ratios, gaps, sparse, extremes])


def test_the_medians_of_parts_are_pandas_medians_leaving_nan_out_and_numpys_otherwise():
    rng = np.random.default_rng(1)
    for trial in range(120):
        n = int(rng.integers(1, 300))
        values = _columns(rng, n, empty=trial % 3 == 0)
        cuts = sorted(int(c) for c in rng.integers(0, n, 3))
        parts = [values[:, a:b] for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
        skip_nan = [True, False, True, trial % 2 == 0, True, False]
        found = medians(lambda parts=parts: iter(parts), skip_nan)
        for c, skip in enumerate(skip_nan):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column's median
                expected = pd.Series(values[c]).median() if skip else np.median(values[c])
            assert np.array_equal(found[c], expected, equal_nan=True), (trial, c)


def test_no_rows_give_no_median():
    found = medians(lambda: iter([np.empty((2, 0))]), [True, False])
    assert np.isnan(found).all()
