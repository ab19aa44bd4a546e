"""The true risk behind a synthetic city, for scoring models against the limit (the "oracle AUC")."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np


def true_probability(ground_truth: Path, window_start: date, months: int = 12) -> dict[str, float]:
    """Per BBL, the true probability of at least one serious event in the `months` starting at `window_start`
    (which must be the first of a simulated month; the window is cut at the end of the simulation)."""
    labels = (ground_truth / "months.txt").read_text().split()
    label = f"{window_start.year:04d}-{window_start.month:02d}"
    if window_start.day != 1 or label not in labels:
        raise ValueError(f"window must start on the first of a simulated month, got {window_start}")
    first = labels.index(label)
    rates = np.load(ground_truth / "serious_rate_monthly.npy", mmap_mode="r")
    expected = np.asarray(rates[:, first : first + months], dtype=np.float64).sum(axis=1)
    with (ground_truth / "buildings.csv").open(newline="") as fh:
        bbls = [row["bbl"] for row in csv.DictReader(fh)]
    return dict(zip(bbls, (1.0 - np.exp(-expected)).tolist(), strict=True))
