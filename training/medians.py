"""Exact medians of float64 columns read a part at a time, in memory that does not grow with the rows.

The typical values saved with a model are medians over the calibration slice (`sentinel.risk.artifacts`), whose
rows live in Ray's object store as parts. A median needs the middle order statistics, which no single pass keeps
in bounded memory; a radix selection finds them exactly in eight passes over the parts: each value's bits are
mapped to a 64-bit key in the values' order, and each pass narrows the middle ranks to one more byte of their key
with a 256-bin histogram per column. The result is `numpy.median`'s: the middle value, or the mean of the two
middle values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

_BITS = 8
_BINS = 1 << _BITS
_PASSES = 64 // _BITS
_SIGN = np.uint64(1 << 63)


def _keys(values: np.ndarray) -> np.ndarray:
    """float64 (no NaN) -> uint64 in the same order: negatives' bits flipped, the others' sign bit set."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    return np.where(bits & _SIGN, ~bits, bits | _SIGN)


def _value(key: np.uint64) -> float:
    bits = key & ~_SIGN if key & _SIGN else ~key
    return float(np.array([bits], dtype=np.uint64).view(np.float64)[0])


def medians(parts: Callable[[], Iterable[np.ndarray]], skip_nan: Iterable[bool]) -> np.ndarray:
    """The median of each column of the [columns, rows] float64 arrays that `parts()` yields (called once a pass).

    A column with `skip_nan` leaves its NaNs out (pandas' `median`); the others are NaN when they hold one
    (`numpy.median`). NaN for a column with no value."""
    skip = np.asarray(list(skip_nan), dtype=bool)
    columns = len(skip)
    counts, nans = np.zeros(columns, dtype=np.int64), np.zeros(columns, dtype=np.int64)
    # Per column, the lower and the upper middle: the known high bits of its key, and its rank among the keys that
    # share them.
    prefixes = np.zeros((columns, 2), dtype=np.uint64)
    ranks = np.zeros((columns, 2), dtype=np.int64)
    for step in range(_PASSES):
        shift = np.uint64(64 - _BITS * (step + 1))
        above = np.uint64(64 - _BITS * step)  # the bits above `shift` are known after `step` passes
        histograms = np.zeros((columns, 2, _BINS), dtype=np.int64)
        for part in parts():
            for c in range(columns):
                known = ~np.isnan(part[c])
                keys = _keys(part[c][known])
                if step == 0:
                    counts[c] += len(keys)
                    nans[c] += len(known) - len(keys)
                for t in range(2):
                    inside = keys if step == 0 else keys[(keys >> above) == (prefixes[c, t] >> above)]
                    digits = ((inside >> shift) & np.uint64(_BINS - 1)).astype(np.intp)
                    histograms[c, t] += np.bincount(digits, minlength=_BINS)
        if step == 0:
            ranks[:, 0], ranks[:, 1] = (counts - 1) // 2, counts // 2
        for c in np.flatnonzero(counts):
            for t in range(2):
                below = np.cumsum(histograms[c, t])
                digit = int(np.searchsorted(below, ranks[c, t], side="right"))
                ranks[c, t] -= int(below[digit - 1]) if digit else 0
                prefixes[c, t] |= np.uint64(digit) << shift
    out = np.full(columns, np.nan)
    for c in np.flatnonzero(counts):
        if skip[c] or not nans[c]:
            low, high = _value(prefixes[c, 0]), _value(prefixes[c, 1])
            out[c] = low if counts[c] % 2 else np.median(np.array([low, high]))
    return out
