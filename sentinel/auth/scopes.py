"""The vocabulary of API-key scopes and the check for them.

A key carries only the scopes it was created with; it never inherits the role of the user who made it, so a
leaked read-only key cannot write. `admin` is the one scope that implies every other.
"""

from collections.abc import Iterable
from enum import StrEnum

from sentinel.auth.errors import Forbidden


class Scope(StrEnum):
    PROPERTIES_READ = "properties:read"  # city data: properties, buildings, violations, complaints
    RISK_READ = "risk:read"
    PORTFOLIOS_READ = "portfolios:read"
    PORTFOLIOS_WRITE = "portfolios:write"
    ALERTS_READ = "alerts:read"  # alerts and alert rules
    ALERTS_WRITE = "alerts:write"  # alert rules, acknowledging alerts
    ADMIN = "admin"


ALL_SCOPES: frozenset[Scope] = frozenset(Scope)


def parse_scopes(values: Iterable[str]) -> frozenset[Scope]:
    """Scopes from their stored strings (api_keys.scopes); an unknown string is a configuration error."""
    try:
        return frozenset(Scope(v) for v in values)
    except ValueError as exc:
        raise ValueError(f"unknown scope in {sorted(values)!r}; known: {sorted(ALL_SCOPES)}") from exc


def has_scope(granted: Iterable[Scope], needed: Scope) -> bool:
    granted = frozenset(granted)
    return needed in granted or Scope.ADMIN in granted


def require_scope(granted: Iterable[Scope], needed: Scope) -> None:
    """Raise `Forbidden` unless `needed` (or `admin`) is among the granted scopes."""
    if not has_scope(granted, needed):
        raise Forbidden(f"missing scope {needed.value}")
