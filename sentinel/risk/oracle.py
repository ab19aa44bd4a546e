"""The best any model could do on a synthetic city: the generator's true probability of a serious event.

Reads `ground_truth/` as the generators write it: `buildings.csv` (a `bbl` column, rows in array order),
`months.txt` (YYYY-MM per column) and `serious_rate_monthly.npy` (expected serious events per building and month).
The probability of at least one event in the 12 months from a cutoff is 1 - exp(-sum of those months' rates).
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np


def true_probability(ground_truth: Path, bbls: list[str], cutoff: date, months: int = 12) -> np.ndarray:
    """nan for a BBL the generator does not know; the cutoff is taken at its month's start."""
    labels = (ground_truth / "months.txt").read_text().split()
    first = labels.index(f"{cutoff:%Y-%m}")
    if first + months > len(labels):
        raise ValueError(f"ground truth ends at {labels[-1]}, before {months} months after {cutoff}")
    rates = np.load(ground_truth / "serious_rate_monthly.npy", mmap_mode="r")
    with (ground_truth / "buildings.csv").open(newline="") as fh:
        row_of = {row["bbl"]: i for i, row in enumerate(csv.DictReader(fh))}
    rows = np.array([row_of.get(b, -1) for b in bbls])
    expected = np.asarray(rates[:, first : first + months], dtype=np.float64).sum(axis=1)
    p = 1.0 - np.exp(-expected)
    return np.where(rows >= 0, p[np.maximum(rows, 0)], np.nan)
