"""Training rows for many cutoffs.

`build_compact` is what `vsentinel train` reads: each cutoff's feature rows a chunk at a time (the cursor of
`sentinel.risk.dataset.feature_chunks`, as batch scoring reads them), each chunk turned at once into the model's
float32 inputs and int8 labels and put in Ray's object store, so the driver holds references and one chunk instead
of every cutoff's rows (benchmarks/RESULTS.md, "NYC at full size"). Of the slices that evaluation reads (calibration
and test) the driver keeps only what evaluation reads besides the model's inputs, a few numbers a lot
(`EvaluationSlice`); the predictions and the typical values are read from the object store's parts a part at a time
(benchmarks/RESULTS.md, "The driver's evaluation slices").

`build` is the whole-frame read, with the dataframe engine as a setting: `pandas` (default, one process) or
`modin` (the same pandas-API calls on Ray); the benchmarks compare engines with it and the tests check that
`build_compact` gives the same model inputs. PostgreSQL does the per-building aggregation (one query per cutoff,
`sentinel.risk.features`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from types import ModuleType
from typing import Literal

import numpy as np
import pandas as pd
import psycopg
import ray

from sentinel.risk import baseline, features
from sentinel.risk import dataset as risk_dataset
from sentinel.risk.artifacts import typical_of_medians
from sentinel.risk.dataset import FeatureSpec, quarterly_cutoffs, to_pandas
from training.medians import medians
from training.trial import Rows

Engine = Literal["pandas", "modin"]
CHUNK_ROWS = 20_000  # buildings per chunk, as batch scoring reads them

__all__ = [
    "CHUNK_ROWS",
    "Engine",
    "EvaluationSlice",
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
    (and goes to the object store) before the model's levels are known, and `TrainingRows` maps these codes to a
    model's as the parts are read."""

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


@dataclass(frozen=True)
class EvaluationSlice:
    """What evaluation reads of a cutoff's rows besides the model's inputs, in the rows' order: the lots' BBLs (the
    oracle's ids), their labels (int8, LABELS order) and each baseline's score (`sentinel.risk.baseline.SCORERS`,
    computed from the rows as read, float64)."""

    bbl: np.ndarray
    labels: np.ndarray
    baselines: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.labels)

    def label(self, kind: str) -> np.ndarray:
        return self.labels[:, risk_dataset.LABELS.index(kind)]

    @classmethod
    def of(cls, frame: pd.DataFrame) -> EvaluationSlice:
        return cls(
            bbl=frame["bbl"].to_numpy(dtype=str),
            labels=np.stack([frame[name].to_numpy(dtype=np.int8) for name in risk_dataset.LABELS], axis=1),
            baselines={name: scorer(frame) for name, scorer in baseline.SCORERS.items()},
        )

    @classmethod
    def concat(cls, parts: list[EvaluationSlice]) -> EvaluationSlice:
        if not parts:
            return cls(np.empty(0, dtype=str), np.empty((0, len(risk_dataset.LABELS)), dtype=np.int8),
                       {name: np.empty(0) for name in baseline.SCORERS})  # fmt: skip
        return cls(
            bbl=np.concatenate([p.bbl for p in parts]),
            labels=np.concatenate([p.labels for p in parts]),
            baselines={name: np.concatenate([p.baselines[name] for p in parts]) for name in baseline.SCORERS},
        )


def _typical_columns(frame: pd.DataFrame, numeric: tuple[str, ...]) -> np.ndarray:
    """[numeric + the weighted open count's terms, rows] float64: what `sentinel.risk.artifacts.typical_values`
    takes the medians of."""
    _, _, terms = baseline.weighted_open_terms(frame)
    return np.concatenate([frame[list(numeric)].astype(np.float64).to_numpy().T, terms.T])


def _typical_values(parts: list[ray.ObjectRef], numeric: tuple[str, ...]) -> dict[str, float]:
    """`sentinel.risk.artifacts.typical_values` of a cutoff's rows from their `_typical_columns` parts in the object
    store (exact medians in eight passes over them, `training.medians`): the same values without the rows whole."""
    terms = list(baseline.WEIGHTS)
    skip_nan = [True] * len(numeric) + [False] * len(terms)  # pandas' median for the features, numpy's for the terms
    values = medians(lambda: (ray.get(ref) for ref in parts), skip_nan)
    at = len(numeric)
    return typical_of_medians(dict(zip(numeric, values[:at], strict=True)), dict(zip(terms, values[at:], strict=True)))


@dataclass
class TrainingRows:
    """Every cutoff's rows as the model reads them, in the object store: parts of float32 inputs in `spec.names`
    order (`training.trial.Rows`, which gives them in `training.distributed.feature_array`'s layout) and int8
    labels in LABELS order; the driver keeps the references, for the cutoffs evaluated their `EvaluationSlice`, and
    the typical values of the cutoff asked for (`sentinel.risk.artifacts.typical_values`). The categorical columns
    hold the read's own codes (`_levels`: each column's levels in the order first seen), mapped to a model's levels
    as they are read."""

    spec: FeatureSpec
    _parts: dict[date, tuple[tuple[ray.ObjectRef, int], ...]]
    _levels: dict[str, tuple[str, ...]]
    _slices: dict[date, EvaluationSlice]
    typical: dict[str, float]

    def _recode(self, spec: FeatureSpec) -> tuple[tuple[int, np.ndarray], ...]:
        """Per categorical column of the parts, the float32 table from the read's codes to `spec`'s."""
        at = len(self.spec.numeric)
        out = []
        for i, name in enumerate(features.CATEGORICAL):
            model = {level: code for code, level in enumerate(spec.categories.get(name, ()))}
            out.append((at + i, np.array([model.get(level, np.nan) for level in self._levels[name]], np.float32)))
        return tuple(out)

    def of(self, cutoffs: Iterable[date], at_most: int = 0) -> Rows:
        """The cutoffs' rows in order, as references (what a Ray task or Train worker reads); with `at_most`, a
        sample of at most that many (`Rows.sampled`: what a fit reads, `max_train_rows`)."""
        parts = tuple(p for c in cutoffs for p in self._parts[c])
        return Rows(parts, self._recode(self.spec), len(self.spec.names), len(risk_dataset.LABELS)).sampled(at_most)

    def inputs(self, cutoffs: Iterable[date], spec: FeatureSpec | None = None) -> Iterator[np.ndarray]:
        """The cutoffs' rows a part at a time as `spec`'s float32 inputs (this run's spec by default; another model's
        when its columns were read: KeyError when not, as a frame without them)."""
        spec = spec or self.spec
        position = {name: i for i, name in enumerate(self.spec.names)}  # the parts' columns
        columns = [position[name] for name in spec.names]
        rows = Rows(tuple(p for c in cutoffs for p in self._parts[c]), self._recode(spec), len(position), 0)
        whole = columns == list(range(len(position)))
        for x, _ in rows.blocks():
            yield x if whole else x[:, columns]

    def features(self, cutoffs: Iterable[date]) -> np.ndarray:
        """The cutoffs' rows in order, gathered into this process (the tests)."""
        return self.of(cutoffs).gather()[0]

    def labels(self, cutoffs: Iterable[date], kind: str) -> np.ndarray:
        return self.of(cutoffs).labels_of()[:, risk_dataset.LABELS.index(kind)]

    def evaluation(self, cutoff: date) -> EvaluationSlice:
        if cutoff not in self._slices:
            raise KeyError(f"no evaluation slice was kept for cutoff {cutoff}")
        return self._slices[cutoff]

    def rows(self, cutoffs: Iterable[date] | None = None) -> int:
        chosen = self._parts if cutoffs is None else cutoffs
        return sum(n for c in chosen for _, n in self._parts[c])


def build_compact(
    conn: psycopg.Connection,
    cutoffs: list[date],
    spec_cutoffs: Iterable[date],
    evaluated: Iterable[date] = (),
    typical: date | None = None,
    horizon_days: int = 365,
    financial_threshold: float = 1000.0,
    chunk: int = CHUNK_ROWS,
) -> TrainingRows:
    """Every cutoff's rows, read `chunk` buildings at a time, each chunk put in Ray's object store as soon as it is
    read (Ray spills it to disk beyond the store's size); the spec is `FeatureSpec.from_frame` of the
    `spec_cutoffs` rows (the training slice: a level seen only later is unknown to the model). The `evaluated`
    cutoffs keep their `EvaluationSlice`, and the `typical` cutoff gives the typical values (from its float64
    columns, put in the store as parts while the cutoff is read and dropped once the medians are found). Gives the
    same arrays as `feature_array(spec, build(...))` per cutoff."""
    keep = set(evaluated)
    levels = {name: _Levels() for name in features.CATEGORICAL}
    seen: dict[date, dict[str, set[int]]] = {}
    parts: dict[date, tuple[tuple[ray.ObjectRef, int], ...]] = {}
    kept: dict[date, EvaluationSlice] = {}
    typical_parts: list[ray.ObjectRef] = []
    typical_values: dict[str, float] = {}
    numeric: tuple[str, ...] = ()
    for cutoff in cutoffs:
        seen[cutoff] = {name: set() for name in features.CATEGORICAL}
        read, slices = [], []
        with (
            risk_dataset.label_lookup(conn, cutoff, horizon_days, financial_threshold) as labels,
            risk_dataset.feature_chunks(conn, cutoff, chunk) as (_, chunks),
        ):
            for part in chunks:
                part = _with_labels(part, labels(part["bbl"].tolist()))
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
                    slices.append(EvaluationSlice.of(part))
                if cutoff == typical:
                    typical_parts.append(ray.put(_typical_columns(part, numeric)))
        parts[cutoff] = tuple(read)
        if cutoff == typical:
            typical_values = _typical_values(typical_parts, numeric)
            typical_parts.clear()  # the store frees them
        if cutoff in keep:
            kept[cutoff] = EvaluationSlice.concat(slices)
    known: dict[str, set[str]] = {name: set() for name in features.CATEGORICAL}
    for name, column in levels.items():
        by_code = list(column.codes)
        for c in spec_cutoffs:
            known[name].update(by_code[code] for code in seen[c][name])
    spec = FeatureSpec(numeric=numeric, categories={k: tuple(sorted(v)) for k, v in known.items()})
    read_levels = {name: tuple(column.codes) for name, column in levels.items()}
    return TrainingRows(spec, parts, read_levels, kept, typical_values)
