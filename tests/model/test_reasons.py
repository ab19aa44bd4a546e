"""Reasons read as a property manager would say them, and only for what raised the risk."""

from __future__ import annotations

import numpy as np

from sentinel.risk.reasons import phrase, top_reasons


def test_counts_become_plain_sentences():
    assert phrase("open_hpd_c", 3.0) == "3 open Class C violations"
    assert phrase("open_hpd_c", 1.0) == "1 open Class C violation"
    assert phrase("c_heat_season", 4.0) == "4 heat complaints this winter"
    assert phrase("v_hpd_b_90", 2.0) == "2 Class B violations in the last 3 months"
    assert phrase("c_311_365", 12.0) == "12 311 complaints in the last year"
    assert phrase("ecb_balance_open", 12500.0) == "$12,500 in unpaid ECB penalties"
    assert phrase("registration_lapsed", 1.0) == "HPD registration has lapsed"
    assert phrase("borough", "2") == "located in the Bronx"


def test_a_zero_count_is_never_a_reason():
    assert phrase("open_hpd_c", 0.0) is None
    assert phrase("registration_lapsed", 0.0) is None
    assert phrase("v_all_365", float("nan")) is None


def test_top_reasons_keep_the_largest_positive_contributions_that_read_as_reasons():
    names = ["open_hpd_c", "units_res", "c_heat_season", "open_hpd_a", "v_all_30", "overdue_all"]
    values = [3.0, 40.0, 0.0, 2.0, 1.0, 5.0]
    contributions = np.array([0.9, 0.5, 0.8, -0.2, 0.1, 0.05, -1.0])  # last column: the bias
    reasons = top_reasons(names, contributions, values)
    assert [r.text for r in reasons] == [
        "3 open Class C violations",
        "40 apartments",
        "1 violation in the last 30 days",
        "5 violations past the certify-by date",
    ]


def test_a_low_value_is_never_a_reason_even_when_the_model_credits_it():
    """The issue's building: 39 open violations, and "0.0 violations per apartment in the last year" as its top
    reason. A feature at or below the typical building's value explains nothing, whatever its contribution."""
    names = ["violations_per_unit_365", "open_all", "v_all_365", "units_res", "violation_trend_90", "open_hpd_c"]
    values = [0.04, 39.0, 2.0, 50.0, 0.25, 0.0]
    contributions = np.array([1.2, 0.8, 0.3, 0.2, 0.15, 0.1, -0.5])
    typical = {"violations_per_unit_365": 0.3, "open_all": 2.0, "v_all_365": 1.0, "units_res": 12.0}
    reasons = top_reasons(names, contributions, values, typical=typical)
    assert [r.text for r in reasons] == ["39 open violations", "2 violations in the last year", "50 apartments"]
    assert all(r.impact > 0 and r.value > typical.get(r.feature, 0.0) for r in reasons)


def test_a_rate_per_apartment_reads_as_its_count_and_the_apartments():
    row = {"v_all_365": 12.0, "units_res": 8.0}
    assert (
        phrase("violations_per_unit_365", 1.5, row, typical=0.2) == "12 violations in the last year across 8 apartments"
    )
    assert phrase("violations_per_unit_365", 0.1, row, typical=0.2) is None
    assert phrase("violations_per_unit_365", 1.5, {"v_all_365": 0.2, "units_res": 8.0}) is None


def test_numbers_that_round_to_nothing_are_not_reasons():
    assert phrase("violation_trend_90", 0.25) is None
    assert phrase("violation_trend_90", 3.0) == "3 more violations in the last 3 months than in a typical quarter"
    assert phrase("v_all_365", 0.4) is None
    assert phrase("year_built", 1901.0) is None


def test_the_baseline_scorer_explains_itself_by_its_own_terms():
    import pandas as pd

    from sentinel.risk.baseline import weighted_open_count, weighted_open_terms

    frame = pd.DataFrame(
        {"open_all": [39.0, 0.0], "open_hpd_a": [10.0, 0.0], "open_hpd_b": [20.0, 0.0], "open_hpd_c": [5.0, 0.0],
         "open_hazardous": [1.0, 0.0]}
    )  # fmt: skip
    names, contributions, values = weighted_open_terms(frame)
    assert contributions.sum(axis=1).tolist() == weighted_open_count(frame).tolist() == [3 * 5 + 3 + 40 + 10 + 3, 0]
    reasons = top_reasons(names, contributions[0], list(values[0]))
    assert [r.text for r in reasons] == [
        "20 open Class B violations",
        "5 open Class C violations",
        "10 open Class A violations",
        "1 open hazardous DOB/ECB violation",
    ]
    assert top_reasons(names, contributions[1], list(values[1])) == []
