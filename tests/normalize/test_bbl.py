from __future__ import annotations

import pytest

from sentinel.bbl import bbl_from_parts, borough_code, is_placeholder_bin, normalize_bbl, normalize_bin


@pytest.mark.parametrize(
    ("spelling", "code"),
    [
        ("1", 1), ("2", 2), ("MANHATTAN", 1), ("BRONX", 2), ("BROOKLYN", 3), ("QUEENS", 4), ("STATEN ISLAND", 5),
        ("MN", 1), ("BX", 2), ("BK", 3), ("QN", 4), ("SI", 5), ("STATEN IS", 5), ("Q", 4), ("M", 1),
        ("Brooklyn", 3), (" queens ", 4), ("Staten  Island", 5),
    ],
)  # fmt: skip
def test_every_borough_spelling_maps_to_its_code(spelling: str, code: int) -> None:
    assert borough_code(spelling) == code


@pytest.mark.parametrize("spelling", ["Unspecified", "NOT NYC", "", "B", "6", "0", None])
def test_unknown_or_ambiguous_borough_is_none(spelling: str | None) -> None:
    assert borough_code(spelling) is None


def test_bbl_pads_block_to_five_and_lot_to_four() -> None:
    assert bbl_from_parts("2", "2810", "45") == "2028100045"


def test_five_char_lot_loses_its_first_char() -> None:
    # DOB: block "00577" lot "00019" (nycdb's lot rule)
    assert bbl_from_parts("1", "00577", "00019") == "1005770019"
    assert bbl_from_parts(4, "03388", "0022") == "4033880022"


def test_space_inside_a_dob_lot_is_padding() -> None:
    assert bbl_from_parts("1", "00640", "0 051") == "1006400051"


def test_unusable_parts_give_no_bbl() -> None:
    assert bbl_from_parts("1", "123456", "1") is None
    assert bbl_from_parts("1", "00577", "123456") is None
    assert bbl_from_parts("X9", "00577", "0019") is None
    assert bbl_from_parts("1", "00000", "0019") is None


def test_pluto_decimal_bbl_becomes_ten_digits() -> None:
    assert normalize_bbl("1000010100.00000000") == "1000010100"
    assert normalize_bbl("1000010100.5") is None


@pytest.mark.parametrize("value", ["0", "", "   ", "123", "6000010001", "1000000000", "10000100AB"])
def test_zero_or_malformed_bbl_is_none(value: str) -> None:
    assert normalize_bbl(value) is None


@pytest.mark.parametrize("placeholder", ["1000000", "2000000", "3000000", "4000000", "5000000", "0"])
def test_placeholder_bins_are_null(placeholder: str) -> None:
    assert normalize_bin(placeholder) is None
    assert is_placeholder_bin(placeholder)


def test_real_bin_is_kept_and_malformed_bins_are_not() -> None:
    assert normalize_bin(" 2007730 ") == "2007730"
    assert normalize_bin("3157552.0") == "3157552"
    assert normalize_bin("6000001") is None
    assert normalize_bin("200773") is None
    assert not is_placeholder_bin("200773")
