"""The heuristics a model must beat, and the scorer served in a model's place when it does not beat them.

The weighted open count is what a property manager would do by hand: open violations at the cutoff weighted by
severity. Served as a scorer, its "contributions" are exactly its terms (weight x count), so its reasons are the
open violations that make up the score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# feature -> weight; "open_other" is every open violation that is not HPD or DOB/ECB hazardous.
WEIGHTS = {"open_hpd_c": 3.0, "open_hazardous": 3.0, "open_hpd_b": 2.0, "open_hpd_a": 1.0, "open_other": 1.0}
NAMES = ("weighted_open_count", "class_c_last_year")


def _terms(frame: pd.DataFrame) -> pd.DataFrame:
    hpd = frame["open_hpd_a"] + frame["open_hpd_b"] + frame["open_hpd_c"]
    terms = frame[["open_hpd_c", "open_hazardous", "open_hpd_b", "open_hpd_a"]].astype(np.float64).copy()
    terms["open_other"] = (frame["open_all"] - hpd - frame["open_hazardous"]).clip(lower=0).astype(np.float64)
    return terms[list(WEIGHTS)]


def weighted_open_count(frame: pd.DataFrame) -> np.ndarray:
    """Open violations at the cutoff weighted by severity: Class C / DOB-ECB hazardous 3, Class B 2, others 1."""
    return (_terms(frame).to_numpy() @ np.array(list(WEIGHTS.values()))).astype(np.float64)


def weighted_open_terms(frame: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(feature names, contributions [rows, names], values [rows, names]) of the weighted open count."""
    terms = _terms(frame)
    values = terms.to_numpy()
    return list(WEIGHTS), values * np.array(list(WEIGHTS.values())), values


def class_c_last_year(frame: pd.DataFrame) -> np.ndarray:
    return (frame["v_hpd_c_365"] > 0).to_numpy(dtype=np.float64)


SCORERS = {"weighted_open_count": weighted_open_count, "class_c_last_year": class_c_last_year}
