"""Which buildings a rule watches: the whole organization, some of its portfolios, or a list of BBLs.

Resolution needs portfolio membership, which lives in the database; `PortfolioDirectory` is that membership as
plain data, loaded once per evaluation pass by the engine (or built by hand in tests and dry-runs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

BBL = Annotated[str, StringConstraints(pattern=r"^[1-5][0-9]{9}$")]


class _Scope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OrganizationScope(_Scope):
    """Every building in any of the organization's portfolios, as they are at evaluation time."""

    type: Literal["organization"] = "organization"


class PortfolioScope(_Scope):
    type: Literal["portfolio"] = "portfolio"
    portfolio_ids: frozenset[int] = Field(min_length=1)


class BuildingScope(_Scope):
    type: Literal["buildings"] = "buildings"
    bbls: frozenset[BBL] = Field(min_length=1)


Scope = Annotated[OrganizationScope | PortfolioScope | BuildingScope, Field(discriminator="type")]


@dataclass(frozen=True)
class PortfolioDirectory:
    """portfolio id -> (owning org, its BBLs), and when each building joined its portfolio."""

    owners: Mapping[int, int] = field(default_factory=dict)
    members: Mapping[int, frozenset[str]] = field(default_factory=dict)
    added: Mapping[tuple[int, str], datetime] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, int, str] | tuple[int, int, str, datetime]]) -> PortfolioDirectory:
        """Build from (portfolio_id, org_id, bbl[, added_at]) rows, e.g. portfolios JOIN portfolio_buildings."""
        owners: dict[int, int] = {}
        members: dict[int, set[str]] = {}
        added: dict[tuple[int, str], datetime] = {}
        for row in rows:
            portfolio_id, org_id, bbl = row[0], row[1], row[2].strip()
            owners[portfolio_id] = org_id
            members.setdefault(portfolio_id, set()).add(bbl)
            if len(row) > 3 and row[3] is not None:  # type: ignore[misc]
                added[(portfolio_id, bbl)] = row[3]  # type: ignore[misc]
        return cls(owners, {pid: frozenset(bbls) for pid, bbls in members.items()}, added)

    @cached_property
    def _by_org(self) -> dict[int, list[int]]:
        by_org: dict[int, list[int]] = {}
        for pid, owner in self.owners.items():
            by_org.setdefault(owner, []).append(pid)
        return by_org

    def _portfolios(self, org_id: int, scope: OrganizationScope | PortfolioScope) -> list[int]:
        if isinstance(scope, PortfolioScope):
            # A rule can only see its own organization's portfolios, whatever ids its JSON names.
            return [pid for pid in scope.portfolio_ids if self.owners.get(pid) == org_id]
        return self._by_org.get(org_id, [])

    def watched_since(
        self, org_id: int, scope: OrganizationScope | PortfolioScope | BuildingScope, bbl: str
    ) -> datetime | None:
        """When `bbl` entered the scope: the first time one of the scope's portfolios took it in (None: a
        building scope, or no time known)."""
        if isinstance(scope, BuildingScope):
            return None
        times = [self.added[(pid, bbl)] for pid in self._portfolios(org_id, scope) if (pid, bbl) in self.added]
        return min(times, default=None)

    def bbls(self, org_id: int, scope: OrganizationScope | PortfolioScope | BuildingScope) -> frozenset[str]:
        if isinstance(scope, BuildingScope):
            return scope.bbls
        ids = self._portfolios(org_id, scope)
        return frozenset().union(*(self.members.get(pid, frozenset()) for pid in ids))
