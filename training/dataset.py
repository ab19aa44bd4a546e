"""Training rows for many cutoffs.

`build_compact` is what `vsentinel train` reads: each cutoff's feature rows a chunk at a time (the cursor of
`sentinel.risk.dataset.feature_chunks`, as batch scoring reads them), each chunk turned at once into the model's
float32 inputs and int8 labels, so the driver holds ~4 bytes a feature a row instead of every cutoff's pandas
frame (benchmarks/RESULTS.md, "NYC at full size"). Only the slices that evaluation reads whole (calibration and
test) keep their frame.

`build` is the whole-frame read, with the dataframe engine as a setting: `pandas` (default, one process) or
`modin` (the same pandas-API calls on Ray); the benchmarks compare engines with it and the tests check that
`build_compact` gives the same model inputs. PostgreSQL does the per-building aggregation (one query per cutoff,
`sentinel.risk.features`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from types import ModuleType
from typing import Literal

import numpy as np
import pandas as pd
import psycopg
from pandas.api.types import union_categoricals

from sentinel.risk import dataset as risk_dataset
from sentinel.risk import features
from sentinel.risk.dataset import FeatureSpec, quarterly_cutoffs, to_pandas

Engine = Literal["pandas", "modin"]
CHUNK_ROWS = 20_000  # buildings per chunk, as batch scoring reads them

__all__ = [
    "CHUNK_ROWS",
    "Engine",
    "FeatureSpec",
    "TrainingRows",
    "build",
    "build_compact",
    "frame_module",
    "quarterly_cutoffs",
    "to_pandas",
]


def frame_module(engine: Engine) -> ModuleType:
    if engine == "modin":
        import modin.config
        import modin.pandas as mpd

        modin.config.Engine.put("ray")
        return mpd
    return pd


def _with_labels(frame, labels):
    """The features with the cutoff's labels: 0/1 ints (a building absent from the labels had no event)."""
    frame = frame.merge(labels, on="bbl", how="left")
    for name in risk_dataset.LABELS:
        frame[name] = frame[name].astype("boolean").fillna(False).astype("int8")
    return frame


def build(
    conn: psycopg.Connection,
    cutoffs: list[date],
    horizon_days: int = 365,
    financial_threshold: float = 1000.0,
    engine: Engine = "pandas",
    with_labels: bool = True,
):
    """Rows for all cutoffs, concatenated, in one frame."""
    pdm = frame_module(engine)
    parts = []
    for cutoff in cutoffs:
        frame = risk_dataset.features_at(conn, cutoff, pdm=pdm)
        if with_labels:
            frame = _with_labels(frame, risk_dataset.labels_at(conn, cutoff, horizon_days, financial_threshold, pdm))
        parts.append(frame)
    return pdm.concat(parts, ignore_index=True)


def numeric_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    """`FeatureSpec.from_frame`'s numeric inputs: every column but the ids, the labels and the categoricals."""
    skip = {*risk_dataset.ID_COLUMNS, *risk_dataset.LABELS, *features.CATEGORICAL}
    return tuple(c for c in frame.columns if c not in skip)


@dataclass
class _Cutoff:
    features: np.ndarray  # float32 [rows, features]: numeric columns filled as read, categories once spec is known
    labels: np.ndarray  # int8 [rows, labels] in LABELS order
    categories: dict[str, pd.Categorical]  # the categorical columns with the levels seen at this cutoff
    frame: pd.DataFrame | None


@dataclass
class TrainingRows:
    """Every cutoff's rows as the model reads them: `features` in `spec.names` order (categories as their codes
    in `spec`'s levels, NaN unknown: `training.distributed.feature_array`'s layout), labels as int8, and for the
    cutoffs asked for, the frame `build` gives (ids, features as read, labels) for evaluation."""

    spec: FeatureSpec
    _cutoffs: dict[date, _Cutoff]

    def features(self, cutoffs: Iterable[date]) -> np.ndarray:
        """The cutoffs' rows in order; one cutoff's array itself (no copy), several concatenated (a new array)."""
        parts = [self._cutoffs[c].features for c in cutoffs]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def labels(self, cutoffs: Iterable[date], kind: str) -> np.ndarray:
        column = risk_dataset.LABELS.index(kind)
        return np.concatenate([self._cutoffs[c].labels[:, column] for c in cutoffs])

    def frame(self, cutoff: date) -> pd.DataFrame:
        frame = self._cutoffs[cutoff].frame
        if frame is None:
            raise KeyError(f"no frame was kept for cutoff {cutoff}")
        return frame

    def rows(self, cutoffs: Iterable[date] | None = None) -> int:
        chosen = self._cutoffs if cutoffs is None else cutoffs
        return sum(len(self._cutoffs[c].labels) for c in chosen)


def build_compact(
    conn: psycopg.Connection,
    cutoffs: list[date],
    spec_cutoffs: Iterable[date],
    frames: Iterable[date] = (),
    horizon_days: int = 365,
    financial_threshold: float = 1000.0,
    chunk: int = CHUNK_ROWS,
) -> TrainingRows:
    """Every cutoff's rows, read `chunk` buildings at a time; the spec is `FeatureSpec.from_frame` of the
    `spec_cutoffs` rows (the training slice: a level seen only later is unknown to the model), and the rows of
    `frames` are kept whole as well. Gives the same arrays as `feature_array(spec, build(...))` per cutoff."""
    keep = set(frames)
    read = {c: _read_cutoff(conn, c, c in keep, horizon_days, financial_threshold, chunk) for c in cutoffs}
    numeric = next((n for _, n in read.values() if n), ())
    levels: dict[str, set[str]] = {name: set() for name in features.CATEGORICAL}
    for c in spec_cutoffs:
        for name, column in read[c][0].categories.items():
            levels[name].update(str(v) for v in column.categories)
    spec = FeatureSpec(numeric=numeric, categories={k: tuple(sorted(v)) for k, v in levels.items()})
    for part, _ in read.values():
        if not len(part.labels):  # no building at this cutoff: no chunk told the columns
            part.features = np.empty((0, len(spec.names)), dtype=np.float32)
        for i, (name, known) in enumerate(spec.categories.items(), start=len(numeric)):
            codes = pd.Categorical(part.categories[name], categories=known).codes
            part.features[:, i] = np.where(codes < 0, np.nan, codes)
        part.categories = {}  # coded now; the kept frames hold the values as read
    return TrainingRows(spec, {c: part for c, (part, _) in read.items()})


def _read_cutoff(
    conn: psycopg.Connection, cutoff: date, keep_frame: bool, horizon_days: int, threshold: float, chunk: int
) -> tuple[_Cutoff, tuple[str, ...]]:
    labels = risk_dataset.labels_at(conn, cutoff, horizon_days, threshold)
    width = len(features.CATEGORICAL)
    numeric: tuple[str, ...] = ()
    out = np.empty((0, 0), dtype=np.float32)
    y = np.empty((0, len(risk_dataset.LABELS)), dtype=np.int8)
    categories: dict[str, list[pd.Categorical]] = {name: [] for name in features.CATEGORICAL}
    kept: list[pd.DataFrame] = []
    start = 0
    with risk_dataset.feature_chunks(conn, cutoff, chunk) as (total, parts):
        for part in parts:
            part = _with_labels(part, labels)
            if not numeric:
                numeric = numeric_columns(part)
                out = np.empty((total, len(numeric) + width), dtype=np.float32)
                y = np.empty((total, len(risk_dataset.LABELS)), dtype=np.int8)
            end = start + len(part)
            for i, name in enumerate(numeric):
                out[start:end, i] = part[name].to_numpy(dtype=np.float64)  # float64 -> float32 as `codes` casts
            for i, name in enumerate(risk_dataset.LABELS):
                y[start:end, i] = part[name].to_numpy()
            for name in features.CATEGORICAL:
                categories[name].append(pd.Categorical(part[name].astype("string")))
            if keep_frame:
                kept.append(part)
            start = end
    assert start == len(out), f"cutoff {cutoff}: read {start} rows of {len(out)}"
    merged = {k: union_categoricals(v) if v else pd.Categorical([]) for k, v in categories.items()}
    frame = pd.concat(kept, ignore_index=True) if keep_frame else None
    return _Cutoff(out, y, merged, frame), numeric
