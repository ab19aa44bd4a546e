from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from sentinel.dates import to_date, to_timestamp
from sentinel.money import to_money
from sentinel.text import UNSPECIFIED_NULLS, clean, clean_spaces, first_segment


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2013-10-08T00:00:00.000", date(2013, 10, 8)),  # floating timestamp
        ("2025-03-03T14:15:14.576Z", date(2025, 3, 3)),  # fixed timestamp
        ("2018-11-07", date(2018, 11, 7)),
        ("20180507", date(2018, 5, 7)),  # DOB/ECB text
        ("12/30/1988", date(1988, 12, 30)),  # DOB complaints
        ("04/26/2013 12:00:00 AM", date(2013, 4, 26)),  # portal CSV
        ("20260717093015", date(2026, 7, 17)),  # dobrundate YYYYMMDDHHMMSS
        ("  20180507  ", date(2018, 5, 7)),
    ],
)
def test_every_source_date_format_parses(value: str, expected: date) -> None:
    warnings: list[str] = []
    assert to_date(value, "f", warnings) == expected
    assert warnings == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("000000", "unrecognized"),
        ("Y9990120", "unrecognized"),
        ("20180230", "impossible"),
        ("2105-11-05T00:00:00.000", "year out of range"),
        ("18991231", "year out of range"),
        ("1900-01-01T00:00:00.000", "placeholder"),
        ("13/45/2020", "impossible"),
    ],
)
def test_garbage_dates_become_none_with_a_reason(value: str, reason: str) -> None:
    warnings: list[str] = []
    assert to_date(value, "issue_date", warnings) is None
    assert len(warnings) == 1
    assert warnings[0].startswith("issue_date: ")
    assert reason in warnings[0]
    assert value.strip() in warnings[0]


def test_missing_or_blank_date_is_none_without_warning() -> None:
    warnings: list[str] = []
    assert to_date(None, "f", warnings) is None
    assert to_date("   ", "f", warnings) is None
    assert warnings == []


def test_repeated_garbage_is_reported_every_time() -> None:
    warnings: list[str] = []
    to_date("000000", "a", warnings)
    to_date("000000", "b", warnings)
    assert [w.split(":")[0] for w in warnings] == ["a", "b"]


def test_system_timestamps_are_utc() -> None:
    warnings: list[str] = []
    assert to_timestamp("2025-03-03T14:15:14.576Z", ":updated_at", warnings) == datetime(
        2025, 3, 3, 14, 15, 14, 576000, tzinfo=UTC
    )
    assert to_timestamp(1348778988, ":updated_at", warnings) == datetime(2012, 9, 27, 20, 49, 48, tzinfo=UTC)
    assert warnings == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [(".00", Decimal("0")), ("1,234.50", Decimal("1234.50")), ("$5", Decimal("5")), ("625.00", Decimal("625.00"))],
)
def test_money_parses_to_decimal(value: str, expected: Decimal) -> None:
    warnings: list[str] = []
    assert to_money(value, "penalty", warnings) == expected
    assert warnings == []


def test_bad_money_is_none_with_reason() -> None:
    warnings: list[str] = []
    assert to_money("12 dollars", "amount_paid", warnings) is None
    assert to_money("99999999999", "amount_paid", warnings) is None
    assert len(warnings) == 2
    assert all(w.startswith("amount_paid: ") for w in warnings)


@pytest.mark.parametrize("value", ["", "   ", "N/A", "NA", "<NA>", "null", "NULL", None])
def test_null_spellings_are_none(value: str | None) -> None:
    assert clean(value) is None


def test_unspecified_is_null_only_where_asked() -> None:
    assert clean("Unspecified") == "Unspecified"
    assert clean("Unspecified", UNSPECIFIED_NULLS) is None


def test_padding_and_runs_of_spaces_are_removed() -> None:
    assert clean("101         ") == "101"
    assert clean_spaces("WEST   23 STREET ") == "WEST 23 STREET"
    assert first_segment("E-ELEVATOR" + " " * 50 + "ELEVATORREQUIRED") == "E-ELEVATOR"
