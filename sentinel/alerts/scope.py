"""Which buildings a rule watches: the whole organization, some of its portfolios, or a list of BBLs.

Resolution needs portfolio membership, which lives in the database; `PortfolioDirectory` is that membership as
plain data, loaded once per evaluation pass by the engine (or built by hand in tests and dry-runs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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
    """portfolio id -> (owning org, its BBLs)."""

    owners: Mapping[int, int] = field(default_factory=dict)
    members: Mapping[int, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, int, str]]) -> PortfolioDirectory:
        """Build from (portfolio_id, org_id, bbl) rows, e.g. portfolios JOIN portfolio_buildings."""
        owners: dict[int, int] = {}
        members: dict[int, set[str]] = {}
        for portfolio_id, org_id, bbl in rows:
            owners[portfolio_id] = org_id
            members.setdefault(portfolio_id, set()).add(bbl)
        return cls(owners, {pid: frozenset(bbls) for pid, bbls in members.items()})

    def bbls(self, org_id: int, scope: OrganizationScope | PortfolioScope | BuildingScope) -> frozenset[str]:
        if isinstance(scope, BuildingScope):
            return scope.bbls
        if isinstance(scope, PortfolioScope):
            # A rule can only see its own organization's portfolios, whatever ids its JSON names.
            ids = [pid for pid in scope.portfolio_ids if self.owners.get(pid) == org_id]
        else:
            ids = [pid for pid, owner in self.owners.items() if owner == org_id]
        return frozenset().union(*(self.members.get(pid, frozenset()) for pid in ids))
