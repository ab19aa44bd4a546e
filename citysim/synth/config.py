"""What a synthetic city is made from: everything that changes its bytes is here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np


@dataclass(frozen=True)
class SynthConfig:
    buildings: int
    start: date
    end: date
    seed: int = 1
    # Part of the city's identity: the random streams are per batch, so another batch size is another city.
    batch_size: int = 1000
    # Per-dataset multipliers of the calibrated record rates, as (dataset_id, factor) pairs; absent = 1. They set a
    # dataset's volume per building (citysim/synth/nyc.py: the real city's row counts) without touching the hidden
    # risk, so the ground truth stays exact (its serious rate is scaled by the same factors).
    volumes: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.buildings < 1:
            raise ValueError("buildings must be at least 1")
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if any(f <= 0 for _, f in self.volumes):
            raise ValueError(f"volume factors must be positive, got {self.volumes}")

    def volume(self, dataset_id: str) -> float:
        return dict(self.volumes).get(dataset_id, 1.0)

    def rng(self, *stream: int) -> np.random.Generator:
        """An independent random stream per purpose and batch, so batches can be generated in any order."""
        return np.random.default_rng(np.random.SeedSequence([self.seed, *stream]))
