"""A trained score on disk: the booster plus everything needed to turn its output into a score and reasons.

A score whose model did not beat the weighted open count is served by that baseline instead: the same artifact
layout without a booster (`scorer: "baseline"` in meta.json), its count calibrated on the same slice as a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import xgboost as xgb

from sentinel.risk import baseline
from sentinel.risk.calibration import Calibrator, Percentiles
from sentinel.risk.dataset import FeatureSpec

MODEL_FILE = "model.ubj"
META_FILE = "meta.json"
SCORERS = ("model", "baseline")


@dataclass
class LoadedModel:
    kind: str
    version: str
    booster: xgb.Booster | None  # None for the baseline scorer
    spec: FeatureSpec
    calibrator: Calibrator
    percentiles: Percentiles
    meta: dict[str, Any]
    scorer: str = "model"
    typical: dict[str, float] = field(default_factory=dict)  # the median building's value per feature

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        if self.booster is None:
            return baseline.weighted_open_count(frame)
        return self.booster.predict(self.dmatrix(frame))

    def explain(self, frame: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(feature names, contributions [rows, names] on the raw output's scale, values [rows, names])."""
        if self.booster is None:
            return baseline.weighted_open_terms(frame)
        names = self.spec.names
        values = frame[names].astype(object).where(frame[names].notna(), None).to_numpy()
        return names, self.contributions(frame)[:, : len(names)], values

    def dmatrix(self, frame: pd.DataFrame) -> xgb.DMatrix:
        return xgb.DMatrix(self.spec.matrix(self.spec.codes(frame)), enable_categorical=True)

    def contributions(self, frame: pd.DataFrame) -> np.ndarray:
        """[rows, features + 1] per-feature contributions on the log-odds scale (the last column is the bias).

        Saabas attributions (`approx_contribs`), not exact TreeSHAP: exact SHAP was most of a batch scoring run on a
        large city, and the two mostly agree on the top features, which is all the reasons need: the few features
        that raised a score the most (benchmarks/RESULTS.md, "Risk model", Scoring)."""
        assert self.booster is not None
        return self.booster.predict(self.dmatrix(frame), pred_contribs=True, approx_contribs=True)


def typical_values(frame: pd.DataFrame, spec: FeatureSpec) -> dict[str, float]:
    """The median of every numeric feature (and of the baseline's terms) over a reference population: a value at or
    below it is not a reason a building is risky, whatever the model's attribution says."""
    numeric = frame[list(spec.numeric)].astype(np.float64).median()
    names, _, values = baseline.weighted_open_terms(frame)
    return typical_of_medians(numeric.to_dict(), dict(zip(names, np.median(values, axis=0), strict=True)))


def typical_of_medians(numeric: dict[str, float], terms: dict[str, float]) -> dict[str, float]:
    """The typical values from the medians of the numeric features (NaNs left out, as pandas does) and of the
    baseline's terms (NaN if one is, as numpy does): a term's median replaces a feature's of the same name, and
    NaN is no typical value. `training.dataset.TrainingRows.typical_values` computes the medians from the rows'
    parts without the frame."""
    return {k: float(v) for k, v in {**numeric, **terms}.items() if not np.isnan(v)}


def save(
    directory: Path,
    kind: str,
    version: str,
    booster: xgb.Booster | None,
    spec: FeatureSpec,
    calibrator: Calibrator,
    percentiles: Percentiles,
    extra: dict[str, Any],
    typical: dict[str, float] | None = None,
) -> Path:
    """Without a booster, saves the calibrated baseline scorer of this score."""
    path = directory / version / kind
    path.mkdir(parents=True, exist_ok=True)
    if booster is not None:
        booster.save_model(path / MODEL_FILE)
    meta = {
        "kind": kind,
        "version": version,
        "scorer": "model" if booster is not None else "baseline",
        "typical": typical or {},
        "spec": spec.to_dict(),
        "calibrator": calibrator.to_dict(),
        "percentiles": percentiles.to_dict(),
        **extra,
    }
    (path / META_FILE).write_bytes(orjson.dumps(meta, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_INDENT_2))
    return path


def load(path: Path) -> LoadedModel:
    meta = orjson.loads((path / META_FILE).read_bytes())
    scorer = meta.get("scorer", "model")
    booster = None
    if scorer == "model":
        booster = xgb.Booster()
        booster.load_model(path / MODEL_FILE)
        booster.set_param({"nthread": 1})
    return LoadedModel(
        kind=meta["kind"],
        version=meta["version"],
        booster=booster,
        spec=FeatureSpec.from_dict(meta["spec"]),
        calibrator=Calibrator.from_dict(meta["calibrator"]),
        percentiles=Percentiles.from_dict(meta["percentiles"]),
        meta=meta,
        scorer=scorer,
        typical=meta.get("typical", {}),
    )
