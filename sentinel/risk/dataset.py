"""Feature and label rows per building at a cutoff (SQL in `sentinel.risk.features`), derived columns, and the
model's input spec. Written against the pandas API; the caller may hand in another pandas-API module (training
uses modin on Ray when configured), so nothing here imports Ray.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from types import ModuleType

import numpy as np
import pandas as pd
import psycopg
from psycopg import postgres, sql

from sentinel.risk import features

LABELS = features.LABELS
ID_COLUMNS = ("bbl", "cutoff")
_FLOAT8 = postgres.types["float8"].oid
# The feature query's row estimates are far too high (params x universe joins), which makes PostgreSQL JIT-compile
# its ~100 aggregates: most of the query's time, even for an online request of a few buildings
# (benchmarks/RESULTS.md, "Risk model"). Its hash aggregates also spill to disk under the default work_mem.
_FEATURE_QUERY_SETTINGS = "set_config('jit', 'off', true), set_config('work_mem', '128MB', true)"


def quarterly_cutoffs(first: date, last: date) -> list[date]:
    """Every first of January, April, July and October in [first, last]."""
    out = []
    year, month = first.year, ((first.month - 1) // 3) * 3 + 1
    while True:
        d = date(year, month, 1)
        if d > last:
            return out
        if d >= first:
            out.append(d)
        month += 3
        if month > 12:
            year, month = year + 1, 1


def _query(conn: psycopg.Connection, query, params: dict, pd_module: ModuleType):
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(f"SELECT {_FEATURE_QUERY_SETTINGS}")
        cur.execute(query, params)
        columns = [d.name for d in cur.description]
        rows = cur.fetchall()
    return pd_module.DataFrame.from_records(rows, columns=columns)


def features_at(conn: psycopg.Connection, cutoff: date, bbls: list[str] | None = None, pdm: ModuleType = pd):
    """Feature rows for every known building (or just `bbls`) as of the start of `cutoff`: nothing dated on or after
    it is read. `pdm` is the pandas-API module that holds the result (pandas, or modin handed in by training)."""
    if bbls is None:
        frame = _query(conn, features.feature_query(), {"cutoff": cutoff}, pdm)
    else:
        frame = _query(conn, features.feature_query(only_bbls=True), {"cutoff": cutoff, "bbls": list(bbls)}, pdm)
    return derive(frame, cutoff)


@contextlib.contextmanager
def feature_chunks(
    conn: psycopg.Connection, cutoff: date, size: int, lots: features.LotRange = features.EVERY_LOT
) -> Iterator[tuple[int, Iterator[pd.DataFrame]]]:
    """Every building's feature rows as `features_at` gives them (or those of the buildings in `lots`), `size` at a
    time, with their count.

    The rows wait in PostgreSQL, in a cursor WITH HOLD (kept past the transaction that opened it, in work_mem or
    temp files), so the caller holds one chunk instead of the city and may commit between chunks. The count is the
    cursor's (a MOVE to its end), so no second query has to agree with the feature query on what a building is."""
    name = "feature_chunks"
    with conn.transaction():
        # A cursor's plan is made for its first tenth of rows by default, and this one is read to the end.
        conn.execute(f"SELECT {_FEATURE_QUERY_SETTINGS}, set_config('cursor_tuple_fraction', '1', true)")
        cur = conn.cursor(name, scrollable=True, withhold=True)
        if lots.whole:
            cur.execute(features.feature_query(), {"cutoff": cutoff})
        else:
            cur.execute(features.feature_query(bbl_range=True), {"cutoff": cutoff, **lots.params()})
        moved = conn.execute(sql.SQL("MOVE FORWARD ALL IN {}").format(sql.Identifier(name))).statusmessage
        total = int((moved or "MOVE 0").split()[-1])
        cur.scroll(0, mode="absolute")
    try:
        yield total, _frames(cur, size, cutoff)
    finally:
        cur.close()


def _frames(cur: psycopg.ServerCursor, size: int, cutoff: date) -> Iterator[pd.DataFrame]:
    assert cur.description is not None
    columns = [d.name for d in cur.description]
    # A float8 column whose chunk holds only NULLs would come out as objects (None), which `derive` cannot do
    # arithmetic on; the whole city's frame has a number somewhere in nearly every column, a chunk may not.
    floats = {d.name: "float64" for d in cur.description if d.type_code == _FLOAT8}
    while rows := cur.fetchmany(size):
        yield derive(pd.DataFrame.from_records(rows, columns=columns).astype(floats), cutoff)


def derive(frame, cutoff: date):
    units = frame["units_res"].fillna(0).clip(lower=1)
    frame["cutoff"] = pd.Timestamp(cutoff)
    frame["building_age"] = cutoff.year - frame["year_built"]
    frame["violations_per_unit_365"] = frame["v_all_365"] / units
    frame["complaints_per_unit_365"] = frame["c_all_365"] / units
    frame["rate_311_per_unit_365"] = frame["c_311_365"] / units
    frame["violation_trend_90"] = frame["v_all_90"] - frame["v_all_prior_year"] / 4.0
    frame["complaint_trend_90"] = frame["c_all_90"] - frame["c_all_prior_year"] / 4.0
    return frame


def labels_at(
    conn: psycopg.Connection,
    cutoff: date,
    horizon_days: int = 365,
    financial_threshold: float = 1000.0,
    pdm: ModuleType = pd,
):
    """Per BBL with any new violation in the horizon: safety, legal, financial, overall (0/1)."""
    frame = _query(conn, features.label_query(), {"cutoff": cutoff, "horizon": horizon_days}, pdm)
    return _labels(frame, financial_threshold)


def _labels(frame, financial_threshold: float):
    frame["financial"] = (frame["new_penalty"] >= financial_threshold) | (frame["new_balance"] >= financial_threshold)
    frame["overall"] = frame["safety"] | frame["legal"] | frame["financial"]
    return frame[["bbl", *LABELS]]


_LABEL_TABLE = "vs_training_labels"


@contextlib.contextmanager
def label_lookup(
    conn: psycopg.Connection, cutoff: date, horizon_days: int = 365, financial_threshold: float = 1000.0
) -> Iterator[Callable[[list[str]], pd.DataFrame]]:
    """`labels_at`'s rows kept in PostgreSQL (a temporary table of this session, dropped after) and read for the
    lots asked for: a caller that reads the features a chunk at a time holds one chunk's labels, not the city's."""
    table = sql.Identifier(_LABEL_TABLE)
    with conn.transaction():
        conn.execute(
            sql.SQL(
                "CREATE TEMPORARY TABLE {} (bbl text PRIMARY KEY, safety boolean, legal boolean, new_penalty float8, "
                "new_balance float8)"
            ).format(table)
        )
        conn.execute(f"SELECT {_FEATURE_QUERY_SETTINGS}")
        conn.execute(sql.SQL("INSERT INTO {} ").format(table) + features.label_query(),
                     {"cutoff": cutoff, "horizon": horizon_days})  # fmt: skip
        conn.execute(sql.SQL("ANALYZE {}").format(table))
    query = sql.SQL("SELECT bbl, safety, legal, new_penalty, new_balance FROM {} WHERE bbl = ANY(%(bbls)s)")

    def lookup(bbls: list[str]) -> pd.DataFrame:
        return _labels(_query(conn, query.format(table), {"bbls": bbls}, pd), financial_threshold)

    try:
        yield lookup
    finally:
        with conn.transaction():
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))


def to_pandas(frame) -> pd.DataFrame:
    return frame if isinstance(frame, pd.DataFrame) else frame._to_pandas()


@dataclass(frozen=True)
class FeatureSpec:
    """The model's inputs: numeric columns and categorical columns with their fixed levels (codes are stable)."""

    numeric: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]

    @property
    def names(self) -> list[str]:
        return [*self.numeric, *self.categories]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> FeatureSpec:
        skip = {*ID_COLUMNS, *LABELS, *features.CATEGORICAL}
        numeric = tuple(c for c in frame.columns if c not in skip)
        categories = {c: tuple(sorted(str(v) for v in frame[c].dropna().unique())) for c in features.CATEGORICAL}
        return cls(numeric=numeric, categories=categories)

    def to_dict(self) -> dict:
        return {"numeric": list(self.numeric), "categories": {k: list(v) for k, v in self.categories.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSpec:
        return cls(tuple(data["numeric"]), {k: tuple(v) for k, v in data["categories"].items()})

    def codes(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Numeric columns as float32 and categoricals as integer codes (-1 unknown): safe to ship between
        processes without pandas categorical dtypes drifting apart."""
        out = frame[list(self.numeric)].astype(np.float32)
        for name, levels in self.categories.items():
            out[name] = pd.Categorical(frame[name].astype("string"), categories=levels).codes.astype(np.int16)
        return out

    def matrix(self, codes: pd.DataFrame) -> pd.DataFrame:
        """From codes to the frame xgboost reads with `enable_categorical=True`."""
        out = codes[list(self.numeric)].copy()
        for name, levels in self.categories.items():
            out[name] = pd.Categorical.from_codes(codes[name].to_numpy(), categories=list(levels))
        return out
