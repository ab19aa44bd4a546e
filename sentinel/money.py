"""Money amounts as Decimal: ECB writes ".00", portal exports "1,234.50", some sources "$5"."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

# violations.penalty_imposed & co. are numeric(12, 2): anything this large is a data error, not a fine.
MAX_AMOUNT = Decimal("10000000000")

_CACHE: dict[str, Decimal | str] = {}
_CACHE_LIMIT = 100_000


def parse_money(value: str) -> Decimal | str:
    """A Decimal, or a reason (str) why `value` is not an amount ("" for blank)."""
    hit = _CACHE.get(value)
    if hit is not None:
        return hit
    result = _parse(value)
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[value] = result
    return result


def to_money(value: Any, field: str, warnings: list[str]) -> Decimal | None:
    if value is None:
        return None
    result = parse_money(value if type(value) is str else str(value))
    if type(result) is str:
        if result:
            warnings.append(f"{field}: {result}")
        return None
    return result  # type: ignore[return-value]


def flag_negative(amount: Decimal | None, field: str, warnings: list[str]) -> Decimal | None:
    """A penalty or payment below zero is implausible: kept as the source says, recorded as a problem."""
    if amount is not None and amount < 0:
        warnings.append(f"{field}: implausible negative amount {str(amount)!r}, kept")
    return amount


def _parse(value: str) -> Decimal | str:
    s = value.strip().replace(",", "").replace("$", "").replace(" ", "")
    if not s:
        return ""
    negative = s.startswith("(") and s.endswith(")")  # accounting style (5.00)
    if negative:
        s = s[1:-1]
    try:
        amount = Decimal(s)
    except InvalidOperation:
        return f"not an amount {value!r}"
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        return f"amount out of range {value!r}"
    return -amount if negative else amount
