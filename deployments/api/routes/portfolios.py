"""/v1/portfolios: the buildings an organization watches, bulk add/remove by BBL, BIN or address, roll-up, CSV.

Every query is scoped to the caller's organization: another organization's portfolio is a 404, exactly like a
missing one, so ids cannot be probed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StringConstraints

from deployments.api.errors import ApiError, not_found
from deployments.api.params import BBL_PATTERN, BIN_PATTERN, CSVResponse
from deployments.api.security import audit, deps_of, require
from deployments.api.strict_query import refuse_unknown_query_params
from sentinel.auth.principal import Principal
from sentinel.auth.rbac import Permission
from sentinel.deadlines import city_today
from sentinel.portfolios import queries, trends
from sentinel.properties.search import bbls_of_bin, lots_at_address

router = APIRouter(prefix="/v1/portfolios", tags=["portfolios"], dependencies=[Depends(refuse_unknown_query_params)])
Reader = Annotated[Principal, Depends(require(Permission.PORTFOLIOS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.PORTFOLIOS_WRITE))]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class PortfolioCreate(BaseModel):
    name: Name


class Portfolio(BaseModel):
    id: int
    name: str
    created_at: datetime
    buildings: int


class BuildingRefs(BaseModel):
    bbls: list[Annotated[str, StringConstraints(pattern=BBL_PATTERN)]] = Field(default_factory=list, max_length=5000)
    bins: list[Annotated[str, StringConstraints(pattern=BIN_PATTERN)]] = Field(default_factory=list, max_length=5000)
    addresses: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=list,
        max_length=1000,
        description="house number and street, any common spelling ('3 Clarence Ave, Bronx' finds 3 CLARENCE AVENUE)",
    )


class BuildingChange(BaseModel):
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    unresolved: list[str] = Field(description="references that matched no known building", default_factory=list)
    ambiguous: list[str] = Field(
        description="addresses or BINs that matched more than one lot (give the borough or the BBL)",
        default_factory=list,
    )


def _owned(conn: Any, portfolio_id: int, org_id: int) -> None:
    if not queries.is_owned(conn, portfolio_id, org_id):
        raise not_found(f"portfolio {portfolio_id}")


def _resolve(conn: Any, refs: BuildingRefs) -> tuple[dict[str, str | None], list[str], list[str]]:
    """BBL -> BIN (when known) for the references, plus the unresolved and the ambiguous ones."""
    found: dict[str, str | None] = {}
    unresolved: list[str] = []
    ambiguous: list[str] = []
    if refs.bbls:
        known = queries.known_bbls(conn, refs.bbls)
        for bbl in refs.bbls:
            if bbl in known:
                found.setdefault(bbl, None)
            else:
                unresolved.append(bbl)
    for bin_ in dict.fromkeys(refs.bins):
        lots = bbls_of_bin(conn, bin_)
        if len(lots) == 1:
            found[lots[0]] = bin_
        elif lots:
            ambiguous.append(bin_)
        else:
            unresolved.append(bin_)
    for address in refs.addresses:
        bbls = lots_at_address(conn, address)
        if len(bbls) == 1:
            found.setdefault(bbls[0], None)
        elif bbls:
            ambiguous.append(address)
        else:
            unresolved.append(address)
    return found, unresolved, ambiguous


@router.get("", response_model=list[Portfolio], summary="The organization's portfolios")
def list_portfolios(request: Request, principal: Reader) -> list[dict[str, Any]]:
    with deps_of(request).pool.connection() as conn:
        return queries.list_with_counts(conn, principal.org_id)


@router.post("", response_model=Portfolio, status_code=201, summary="Create a portfolio")
def create_portfolio(request: Request, body: PortfolioCreate, principal: Writer) -> dict[str, Any]:
    with deps_of(request).pool.connection() as conn, conn.transaction():
        created = queries.create(conn, principal.org_id, body.name)
        if created is None:
            raise ApiError(409, "conflict", f"a portfolio named {body.name!r} already exists")
        audit(conn, principal, "portfolio.create", f"portfolio:{created.id}", {"name": body.name})
    return {"id": created.id, "name": created.name, "created_at": created.created_at, "buildings": 0}


@router.delete("/{portfolio_id}", status_code=204, summary="Delete a portfolio")
def delete_portfolio(request: Request, portfolio_id: int, principal: Writer) -> None:
    with deps_of(request).pool.connection() as conn, conn.transaction():
        if not queries.delete(conn, portfolio_id, principal.org_id):
            raise not_found(f"portfolio {portfolio_id}")
        audit(conn, principal, "portfolio.delete", f"portfolio:{portfolio_id}")


@router.post("/{portfolio_id}/buildings", response_model=BuildingChange, summary="Add buildings in bulk")
def add_buildings(request: Request, portfolio_id: int, body: BuildingRefs, principal: Writer) -> BuildingChange:
    with deps_of(request).pool.connection() as conn, conn.transaction():
        _owned(conn, portfolio_id, principal.org_id)
        found, unresolved, ambiguous = _resolve(conn, body)
        added = queries.add_buildings(conn, portfolio_id, found)
        audit(conn, principal, "portfolio.add_buildings", f"portfolio:{portfolio_id}", {"added": added})
    return BuildingChange(added=added, unresolved=unresolved, ambiguous=ambiguous)


@router.post("/{portfolio_id}/buildings/remove", response_model=BuildingChange, summary="Remove buildings in bulk")
def remove_buildings(request: Request, portfolio_id: int, body: BuildingRefs, principal: Writer) -> BuildingChange:
    with deps_of(request).pool.connection() as conn, conn.transaction():
        _owned(conn, portfolio_id, principal.org_id)
        found, unresolved, ambiguous = _resolve(conn, body)
        removed = queries.remove_buildings(conn, portfolio_id, list(found))
        audit(conn, principal, "portfolio.remove_buildings", f"portfolio:{portfolio_id}", {"removed": removed})
    return BuildingChange(removed=removed, unresolved=unresolved, ambiguous=ambiguous)


@router.get("/{portfolio_id}", summary="A portfolio's roll-up: scores, open violations, exposure, deadlines")
def portfolio_rollup(request: Request, portfolio_id: int, principal: Reader) -> dict[str, Any]:
    deps = deps_of(request)
    with deps.pool.connection() as conn:
        portfolio = queries.head(conn, portfolio_id, principal.org_id)
        if portfolio is None:
            raise not_found(f"portfolio {portfolio_id}")
        buildings = queries.rollup_rows(conn, portfolio_id, city_today(deps.now()))
    scored = [b["overall"] for b in buildings if b["overall"] is not None]
    summary = {
        "buildings": len(buildings),
        "scored_buildings": len(scored),
        "mean_overall_score": round(sum(scored) / len(scored), 1) if scored else None,
        "max_overall_score": max(scored) if scored else None,
        "open_violations": sum(b["open_violations"] for b in buildings),
        "open_class_c": sum(b["open_class_c"] for b in buildings),
        "overdue_deadlines": sum(b["overdue_deadlines"] or 0 for b in buildings),
        "penalty_imposed": sum((b["imposed"] or 0) for b in buildings),
        "penalty_paid": sum((b["paid"] or 0) for b in buildings),
        "penalty_balance": sum((b["balance"] or 0) for b in buildings),
        "violations_with_unknown_amounts": sum(b["violations_with_unknown_amounts"] for b in buildings),
        "next_deadline": min((b["next_deadline"] for b in buildings if b["next_deadline"]), default=None),
    }
    return {
        "id": portfolio.id,
        "name": portfolio.name,
        "created_at": portfolio.created_at,
        "summary": summary,
        "buildings": buildings,
    }


UPCOMING_DAYS = 30


@router.get("/{portfolio_id}/trends", summary="Open violations at each month end (24 months), by source and class")
def portfolio_trends(request: Request, portfolio_id: int, principal: Reader) -> dict[str, Any]:
    deps = deps_of(request)
    today = city_today(deps.now())
    with deps.pool.connection() as conn:
        _owned(conn, portfolio_id, principal.org_id)
        return {
            "open_by_month": trends.open_violations_by_month(conn, portfolio_id, today),
            "open_by_source_class": trends.open_violations_by_source_class(conn, portfolio_id),
            "upcoming_deadlines": trends.upcoming_deadlines(conn, portfolio_id, today, UPCOMING_DAYS),
            "upcoming_days": UPCOMING_DAYS,
        }


@router.get("/{portfolio_id}/export.csv", summary="A portfolio's roll-up as CSV", response_class=CSVResponse)
async def export_portfolio(request: Request, portfolio_id: int, principal: Reader) -> Any:
    deps = deps_of(request)

    def check_owned() -> None:
        with deps.pool.connection() as conn:
            _owned(conn, portfolio_id, principal.org_id)

    await anyio.to_thread.run_sync(check_owned)
    sql, params = queries.rollup_query(portfolio_id, city_today(deps.now()))
    return await deps.exports.open(principal.org_id, sql, params, f"portfolio-{portfolio_id}.csv")
