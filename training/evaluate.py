"""Out-of-time evaluation of a score: the model and its baselines on the same slice, the same way.

Each scorer (the model, a weighted open-violation count, "had a Class C last year") is calibrated by an isotonic
fit on the calibration slice and then measured on the later test slice; on a synthetic city the generator's true
probability gives the oracle AUC, the ceiling of any model. Every AUC comes with a bootstrap interval, and the
model's advantage over the weighted count with a paired one: the promotion gate (`beats_baseline`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sentinel.risk import metrics
from sentinel.risk.baseline import NAMES as BASELINES
from sentinel.risk.baseline import SCORERS as BASELINE_SCORERS
from sentinel.risk.bootstrap import Interval, auc_intervals
from sentinel.risk.calibration import fit_isotonic

GATE_BASELINE = "weighted_open_count"
__all__ = ["BASELINES", "BASELINE_SCORERS", "GATE_BASELINE", "SliceResult", "evaluate_slice"]


@dataclass
class SliceResult:
    kind: str
    test_cutoff: str
    calibration_cutoff: str
    model: metrics.Evaluation
    baselines: dict[str, metrics.Evaluation]
    oracle_auc: float | None = None
    lift_curves: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    # AUC interval per scorer ("model", each baseline, "oracle"), and AUC(x) - AUC(weighted count) per other scorer
    intervals: dict[str, Interval] = field(default_factory=dict)
    over_baseline: dict[str, Interval] = field(default_factory=dict)

    @property
    def beats_baseline(self) -> bool:
        """The gate: the lower end of the paired interval of AUC(model) - AUC(weighted count) is above zero."""
        gap = self.over_baseline.get("model")
        return gap is not None and gap.low > 0

    def to_dict(self) -> dict:
        model_auc = self.model.roc_auc
        return {
            "kind": self.kind,
            "test_cutoff": self.test_cutoff,
            "calibration_cutoff": self.calibration_cutoff,
            "model": self.model.to_dict(),
            "baselines": {k: v.to_dict() for k, v in self.baselines.items()},
            "oracle_auc": self.oracle_auc,
            "auc_over_oracle": model_auc / self.oracle_auc if self.oracle_auc else None,
            "top5_gain_over_weighted_count": self.top5_gain(),
            "auc_intervals": {k: v.to_dict() for k, v in self.intervals.items()},
            "auc_over_weighted_count": {k: v.to_dict() for k, v in self.over_baseline.items()},
            "beats_baseline": self.beats_baseline,
            "lift_curves": self.lift_curves,
        }

    def top5_gain(self) -> float | None:
        base = self.baselines["weighted_open_count"].at(0.05).true_positives
        return (self.model.at(0.05).true_positives - base) / base if base else None


def evaluate_slice(
    kind: str,
    calibration: tuple[dict[str, np.ndarray], np.ndarray, np.ndarray],
    test: tuple[dict[str, np.ndarray], np.ndarray, np.ndarray],
    cutoffs: tuple[str, str],
    oracle: np.ndarray | None = None,
    oracle_is_truth: bool = True,
    resamples: int = 400,
) -> SliceResult:
    """`calibration` and `test` are (each baseline's score per row, `BASELINE_SCORERS` of the slice's features;
    labels; calibrated model probabilities); `oracle` the generator's true probability of a serious event per test
    row: the ceiling (`oracle_auc`) only when it is this label's truth, else only a reference in the intervals."""
    cal_scores, y_cal, _ = calibration
    test_scores, y_test, p_test = test
    baselines, curves = {}, {"model": metrics.lift_curve(y_test, p_test)}
    scored = {"model": p_test}
    for name in BASELINE_SCORERS:
        calibrator = fit_isotonic(cal_scores[name], y_cal)
        p = calibrator(test_scores[name])
        baselines[name] = metrics.evaluate(y_test, p)
        curves[name] = metrics.lift_curve(y_test, p)
        scored[name] = p
    oracle_auc = None
    if oracle is not None and not np.isnan(oracle).all():
        known = ~np.isnan(oracle)
        if oracle_is_truth:
            oracle_auc = metrics.roc_auc(y_test[known], oracle[known])
            curves["oracle"] = metrics.lift_curve(y_test[known], oracle[known])
        scored["oracle"] = oracle
    intervals, over = auc_intervals(y_test, scored, reference=GATE_BASELINE, resamples=resamples)
    return SliceResult(
        kind=kind,
        test_cutoff=cutoffs[1],
        calibration_cutoff=cutoffs[0],
        model=metrics.evaluate(y_test, p_test),
        baselines=baselines,
        oracle_auc=oracle_auc,
        lift_curves=curves,
        intervals=intervals,
        over_baseline=over,
    )


def _f(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def markdown(results: list[SliceResult], folds: list[dict] | None = None) -> str:
    lines = [
        "| score | test cutoff | scorer | ROC AUC | PR AUC | Brier | P@1% | P@5% | R@5% | lift@5% | P@10% | R@10% |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rows = [("model", r.model), *r.baselines.items()]
        for name, e in rows:
            t1, t5, t10 = e.at(0.01), e.at(0.05), e.at(0.10)
            lines.append(
                f"| {r.kind} | {r.test_cutoff} | {name} | {_f(e.roc_auc)} | {_f(e.pr_auc)} | {_f(e.brier, 4)} | "
                f"{_f(t1.precision)} | {_f(t5.precision)} | {_f(t5.recall)} | {_f(t5.lift, 2)} | "
                f"{_f(t10.precision)} | {_f(t10.recall)} |"
            )
        if r.oracle_auc is not None:
            lines.append(
                f"| {r.kind} | {r.test_cutoff} | oracle | {_f(r.oracle_auc)} | | | | | | | | "
                f"model/oracle AUC {_f(r.model.roc_auc / r.oracle_auc)} |"
            )
    out = ["## Latest out-of-time split", "", *lines, ""]
    for r in results:
        out += [f"### Reliability, {r.kind} (test {r.test_cutoff})", "", "| band | rows | mean predicted | observed |"]
        out.append("|---|---|---|---|")
        for b in r.model.bands:
            out.append(f"| {b.low:.2f}-{b.high:.2f} | {b.rows} | {_f(b.mean_predicted)} | {_f(b.observed_rate)} |")
        out.append("")
    if folds:
        out += ["## Rolling out-of-time folds", ""]
        out += ["| score | train through | test cutoff | ROC AUC | PR AUC | Brier |", "|---|---|---|---|---|---|"]
        for f in folds:
            out.append(
                f"| {f['kind']} | {f['train_through']} | {f['test_cutoff']} | {_f(f['roc_auc'])} | "
                f"{_f(f['pr_auc'])} | {_f(f['brier'], 4)} |"
            )
        out.append("")
    return "\n".join(out)


def plot(results: list[SliceResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(results), figsize=(4 * len(results), 7), squeeze=False)
    for col, r in enumerate(results):
        gain = axes[0][col]
        for name, curve in r.lift_curves.items():
            xs, ys = zip(*curve, strict=True)
            gain.plot(xs, ys, label=name, linestyle="--" if name != "model" else "-")
        gain.plot([0, 1], [0, 1], color="grey", linewidth=0.5)
        gain.set_title(f"{r.kind}: cumulative gain")
        gain.set_xlabel("share of buildings (riskiest first)")
        gain.set_ylabel("share of events found")
        gain.legend(fontsize=7)
        rel = axes[1][col]
        bands = [b for b in r.model.bands if b.rows]
        rel.plot([b.mean_predicted for b in bands], [b.observed_rate for b in bands], marker="o", label="model")
        rel.plot([0, 1], [0, 1], color="grey", linewidth=0.5)
        rel.set_title(f"{r.kind}: reliability")
        rel.set_xlabel("mean predicted probability")
        rel.set_ylabel("observed rate")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
