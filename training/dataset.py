"""Training rows for many cutoffs with the dataframe engine as a setting: `pandas` (default, one process) or
`modin` (the same pandas-API calls on Ray). PostgreSQL does the per-building aggregation (one query per cutoff,
`sentinel.risk.features`); see benchmarks/RESULTS.md "Risk model" for the measured engines.
"""

from __future__ import annotations

from datetime import date
from types import ModuleType
from typing import Literal

import pandas as pd
import psycopg

from sentinel.risk import dataset as risk_dataset
from sentinel.risk.dataset import FeatureSpec, quarterly_cutoffs, to_pandas

Engine = Literal["pandas", "modin"]

__all__ = ["Engine", "FeatureSpec", "build", "frame_module", "quarterly_cutoffs", "to_pandas"]


def frame_module(engine: Engine) -> ModuleType:
    if engine == "modin":
        import modin.config
        import modin.pandas as mpd

        modin.config.Engine.put("ray")
        return mpd
    return pd


def build(
    conn: psycopg.Connection,
    cutoffs: list[date],
    horizon_days: int = 365,
    financial_threshold: float = 1000.0,
    engine: Engine = "pandas",
    with_labels: bool = True,
):
    """Rows for all cutoffs, concatenated; labels are 0/1 ints (a building absent from the labels had no event)."""
    pdm = frame_module(engine)
    parts = []
    for cutoff in cutoffs:
        frame = risk_dataset.features_at(conn, cutoff, pdm=pdm)
        if with_labels:
            labels = risk_dataset.labels_at(conn, cutoff, horizon_days, financial_threshold, pdm)
            frame = frame.merge(labels, on="bbl", how="left")
            for name in risk_dataset.LABELS:
                frame[name] = frame[name].astype("boolean").fillna(False).astype("int8")
        parts.append(frame)
    return pdm.concat(parts, ignore_index=True)
