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
