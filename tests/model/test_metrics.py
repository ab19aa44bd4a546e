"""Evaluation math against values computed by hand on ten buildings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sentinel.risk import metrics
from sentinel.risk.calibration import Percentiles, fit_isotonic
from sentinel.risk.trend import trend

# Ranked from riskiest down; the events happened at ranks 1, 3 and 6.
Y = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 0])
P = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])


def test_roc_auc_counts_the_negatives_ranked_below_each_positive():
    # 7 + 6 + 4 of 3 x 7 pairs
    assert metrics.roc_auc(Y, P) == pytest.approx(17 / 21)


def test_roc_auc_counts_a_tie_as_half_a_win():
    assert metrics.roc_auc(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.5)


def test_roc_auc_is_undefined_without_both_classes():
    assert math.isnan(metrics.roc_auc(np.array([0, 0]), np.array([0.1, 0.2])))


def test_average_precision_is_the_mean_precision_at_each_positive():
    assert metrics.pr_auc(Y, P) == pytest.approx((1 + 2 / 3 + 3 / 6) / 3)


def test_average_precision_treats_tied_scores_as_one_step():
    y, p = np.array([1, 0, 1]), np.array([0.5, 0.5, 0.1])
    assert metrics.pr_auc(y, p) == pytest.approx(0.5 * 0.5 + (2 / 3) * 0.5)
    assert metrics.pr_auc(y[[1, 0, 2]], p[[1, 0, 2]]) == pytest.approx(0.5 * 0.5 + (2 / 3) * 0.5)


def test_top_ten_percent_is_the_single_riskiest_building():
    top = metrics.at_top(Y, P, 0.10)
    assert (top.rows, top.true_positives) == (1, 1)
    assert top.precision == 1.0
    assert top.recall == pytest.approx(1 / 3)
    assert top.lift == pytest.approx(1 / 0.3)


def test_top_half_finds_two_of_three_events():
    top = metrics.at_top(Y, P, 0.5)
    assert (top.rows, top.true_positives) == (5, 2)
    assert top.precision == pytest.approx(0.4)
    assert top.recall == pytest.approx(2 / 3)
    assert top.lift == pytest.approx(0.4 / 0.3)


def test_brier_is_the_mean_squared_error_of_the_probabilities():
    assert metrics.brier(Y, P) == pytest.approx(1.8525 / 10)


def test_reliability_compares_mean_prediction_and_observed_rate_per_band():
    low, high = metrics.reliability(Y, P, edges=(0.0, 0.5, 1.0))
    assert (low.rows, high.rows) == (5, 5)
    assert low.mean_predicted == pytest.approx(0.21)
    assert low.observed_rate == pytest.approx(0.2)
    assert high.mean_predicted == pytest.approx(0.7)
    assert high.observed_rate == pytest.approx(0.4)


def test_lift_curve_reaches_all_events_when_everyone_is_contacted():
    curve = metrics.lift_curve(Y, P, points=2)
    assert curve == [(0.0, 0.0), (0.5, pytest.approx(2 / 3)), (1.0, 1.0)]


def test_evaluation_serializes_without_nan():
    evaluation = metrics.evaluate(np.array([0, 0, 0]), np.array([0.1, 0.2, 0.3]))
    data = evaluation.to_dict()
    assert data["roc_auc"] is None
    assert data["top"][0]["rows"] == 1


def test_isotonic_calibration_never_decreases():
    rng = np.random.default_rng(7)
    p = rng.uniform(size=2000)
    y = (rng.uniform(size=2000) < p**2).astype(int)
    calibrated = fit_isotonic(p, y)(np.linspace(0, 1, 101))
    assert np.all(np.diff(calibrated) >= 0)
    assert calibrated[10] < 0.1 < calibrated[90]


def test_percentiles_place_a_probability_within_the_reference_population():
    reference = Percentiles.of(np.linspace(0.0, 1.0, 10_001))
    assert reference.score(np.array([0.0, 0.25, 0.5, 1.0, 2.0, -1.0])).tolist() == [0, 25, 50, 100, 100, 0]


def test_trend_follows_the_score_change_before_the_activity():
    assert trend(previous=40, current=50, recent_90=0, prior_year=40) == "up"
    assert trend(previous=50, current=40, recent_90=9, prior_year=0) == "down"
    # A score that held is steady whatever its activity: 100 with records slowing is not "falling".
    assert trend(previous=50, current=52, recent_90=9, prior_year=4) == "flat"
    assert trend(previous=100, current=100, recent_90=0, prior_year=40) == "flat"
    assert trend(previous=None, current=50, recent_90=0, prior_year=40) == "down"
    assert trend(previous=None, current=50, recent_90=1, prior_year=4) == "flat"
