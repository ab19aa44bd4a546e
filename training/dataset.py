"""Training rows for many cutoffs.

`build_compact` is what `vsentinel train` reads: each cutoff's feature rows a chunk at a time (the cursor of
`sentinel.risk.dataset.feature_chunks`, as batch scoring reads them), each chunk turned at once into the model's
float32 inputs and int8 labels and put in Ray's object store, so the driver holds references and one chunk instead
of every cutoff's rows (benchmarks/RESULTS.md, "NYC at full size"). Only the slices that evaluation reads whole
(calibration and test) keep their frame in the driver.

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
import ray

from sentinel.risk import dataset as risk_dataset
from sentinel.risk import features
from sentinel.risk.dataset import FeatureSpec, quarterly_cutoffs, to_pandas
from training.trial import Rows

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


class _Levels:
    """A categorical column's values as codes of the whole read, in the order they were first seen: a chunk is coded
    (and goes to the object store) before the model's levels are known, and `recode` maps these codes to the
    model's at the end."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}

    def code(self, values: pd.Series) -> tuple[np.ndarray, set[int]]:
        """(the values' codes as float32, NaN for a missing value; the codes seen)."""
        column = pd.Categorical(values.astype("string"))
        table = np.array([self.codes.setdefault(str(v), len(self.codes)) for v in column.categories], dtype=np.float32)
        found = column.codes
        out = np.full(len(found), np.nan, dtype=np.float32)
        out[found >= 0] = table[found[found >= 0]]
        return out, {int(c) for c in table}

    def recode(self, known: tuple[str, ...]) -> np.ndarray:
        model = {level: i for i, level in enumerate(known)}
        return np.array([model.get(level, np.nan) for level in self.codes], dtype=np.float32)


@dataclass
class TrainingRows:
    """Every cutoff's rows as the model reads them, in the object store: parts of float32 inputs in `spec.names`
    order (`training.trial.Rows`, which gives them in `training.distributed.feature_array`'s layout) and int8
    labels in LABELS order; the driver keeps the references, and for the cutoffs asked for, the frame `build`
    gives (ids, features as read, labels) for evaluation."""

    spec: FeatureSpec
    _parts: dict[date, tuple[tuple[ray.ObjectRef, int], ...]]
    _recode: tuple[tuple[int, np.ndarray], ...]
    _frames: dict[date, pd.DataFrame]

    def of(self, cutoffs: Iterable[date]) -> Rows:
        """The cutoffs' rows in order, as references (what a Ray task or Train worker reads)."""
        parts = tuple(p for c in cutoffs for p in self._parts[c])
        return Rows(parts, self._recode, len(self.spec.names), len(risk_dataset.LABELS))

    def features(self, cutoffs: Iterable[date]) -> np.ndarray:
        """The cutoffs' rows in order, gathered into this process (a per-building slice; the tests)."""
        return self.of(cutoffs).gather()[0]

    def labels(self, cutoffs: Iterable[date], kind: str) -> np.ndarray:
        return self.of(cutoffs).labels_of()[:, risk_dataset.LABELS.index(kind)]

    def frame(self, cutoff: date) -> pd.DataFrame:
        if cutoff not in self._frames:
            raise KeyError(f"no frame was kept for cutoff {cutoff}")
        return self._frames[cutoff]

    def rows(self, cutoffs: Iterable[date] | None = None) -> int:
        chosen = self._parts if cutoffs is None else cutoffs
        return sum(n for c in chosen for _, n in self._parts[c])


def build_compact(
    conn: psycopg.Connection,
    cutoffs: list[date],
    spec_cutoffs: Iterable[date],
    frames: Iterable[date] = (),
    horizon_days: int = 365,
    financial_threshold: float = 1000.0,
    chunk: int = CHUNK_ROWS,
) -> TrainingRows:
    """Every cutoff's rows, read `chunk` buildings at a time, each chunk put in Ray's object store as soon as it is
    read (Ray spills it to disk beyond the store's size); the spec is `FeatureSpec.from_frame` of the
    `spec_cutoffs` rows (the training slice: a level seen only later is unknown to the model), and the rows of
    `frames` are kept whole as well. Gives the same arrays as `feature_array(spec, build(...))` per cutoff."""
    keep = set(frames)
    levels = {name: _Levels() for name in features.CATEGORICAL}
    seen: dict[date, dict[str, set[int]]] = {}
    parts: dict[date, tuple[tuple[ray.ObjectRef, int], ...]] = {}
    kept: dict[date, pd.DataFrame] = {}
    numeric: tuple[str, ...] = ()
    for cutoff in cutoffs:
        seen[cutoff] = {name: set() for name in features.CATEGORICAL}
        labels = risk_dataset.labels_at(conn, cutoff, horizon_days, financial_threshold)
        read, frame_parts = [], []
        with risk_dataset.feature_chunks(conn, cutoff, chunk) as (_, chunks):
            for part in chunks:
                part = _with_labels(part, labels)
                numeric = numeric or numeric_columns(part)
                x = np.empty((len(part), len(numeric) + len(features.CATEGORICAL)), dtype=np.float32)
                for i, name in enumerate(numeric):
                    x[:, i] = part[name].to_numpy(dtype=np.float64)  # float64 -> float32 as `codes` casts
                for i, name in enumerate(features.CATEGORICAL, start=len(numeric)):
                    x[:, i], found = levels[name].code(part[name])
                    seen[cutoff][name] |= found
                y = np.stack([part[name].to_numpy(dtype=np.int8) for name in risk_dataset.LABELS], axis=1)
                read.append((ray.put((x, y)), len(part)))
                if cutoff in keep:
                    frame_parts.append(part)
        parts[cutoff] = tuple(read)
        if cutoff in keep:
            kept[cutoff] = pd.concat(frame_parts, ignore_index=True)
    known: dict[str, set[str]] = {name: set() for name in features.CATEGORICAL}
    for name, column in levels.items():
        by_code = list(column.codes)
        for c in spec_cutoffs:
            known[name].update(by_code[code] for code in seen[c][name])
    spec = FeatureSpec(numeric=numeric, categories={k: tuple(sorted(v)) for k, v in known.items()})
    columns = enumerate(spec.categories.items(), start=len(numeric))
    recode = tuple((i, levels[name].recode(values)) for i, (name, values) in columns)
    return TrainingRows(spec, parts, recode, kept)
