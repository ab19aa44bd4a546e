"""/v1/properties: search by address, BBL or BIN, and the property page. City data: any authenticated caller."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from deployments.api.errors import ApiError, not_found
from deployments.api.params import BBL_PATTERN, BIN_PATTERN, BblPath
from deployments.api.security import deps_of, require
from deployments.api.strict_query import refuse_unknown_query_params
from sentinel.auth.principal import Principal
from sentinel.auth.rbac import Permission
from sentinel.deadlines import city_today, days_left, days_overdue, is_overdue
from sentinel.properties import queries
from sentinel.properties.search import PropertyQuery, find_properties, quality_of

router = APIRouter(prefix="/v1/properties", tags=["properties"], dependencies=[Depends(refuse_unknown_query_params)])
CityReader = Annotated[Principal, Depends(require(Permission.CITY_READ))]

UPCOMING_DAYS = 60


@router.get("", summary="Find properties by BBL, BIN, address, street or borough")
def search(
    request: Request,
    _: CityReader,
    q: Annotated[str | None, Query(min_length=1, max_length=200, description="address, street, BBL or BIN")] = None,
    bbl: Annotated[str | None, Query(pattern=BBL_PATTERN)] = None,
    bin: Annotated[str | None, Query(pattern=BIN_PATTERN, description="BIN from any dataset that has one")] = None,
    address: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="'3 Clarence Ave, Bronx', a street alone, or a prefix"),
    ] = None,
    borough: Annotated[int | None, Query(ge=1, le=5, description="1 Manhattan ... 5 Staten Island")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> dict[str, Any]:
    if q is not None:
        text = q.strip()
        if re.fullmatch(BBL_PATTERN, text):
            bbl = text
        elif re.fullmatch(BIN_PATTERN, text):
            bin = text
        else:
            address = text
    if not (bbl or bin or address or borough):
        raise ApiError(400, "missing_query", "give q, bbl, bin, address or borough")
    query = PropertyQuery(bbl=bbl, bin=bin, address=address, borough=borough, limit=limit, offset=offset)
    with deps_of(request).pool.connection() as conn:
        return {"results": find_properties(conn, query)}


def _deadlines(rows: list[dict[str, Any]], today: date) -> dict[str, list[dict[str, Any]]]:
    upcoming, overdue = [], []
    horizon = today + timedelta(days=UPCOMING_DAYS)
    for row in rows:
        base = {k: row[k] for k in ("source", "source_id", "class", "severity", "description")}
        for kind in ("certify_by", "correct_by", "hearing"):
            due = row[f"{kind}_date"]
            if due is None:
                continue
            # `days` is days_left (negative once passed); days_overdue is what the alerts and the dry-run say.
            entry = {**base, "deadline": kind, "due": due, "days": days_left(due, today)}
            if is_overdue(due, today) and kind != "hearing":  # a passed hearing is not an overdue correction
                overdue.append({**entry, "days_overdue": days_overdue(due, today)})
            elif today <= due <= horizon:
                upcoming.append(entry)
    upcoming.sort(key=lambda e: e["due"])
    overdue.sort(key=lambda e: e["due"])
    return {"upcoming": upcoming, "overdue": overdue}


def _exposure(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_source = []
    totals = {"imposed": 0, "paid": 0, "balance": 0, "violations_with_unknown_amounts": 0}
    for row in rows:
        unknown = row["unknown_balance"]
        by_source.append(
            {
                "source": row["source"],
                "violations": row["violations"],
                "imposed": row["imposed"],
                "paid": row["paid"],
                "balance": row["balance"],
                "violations_with_unknown_amounts": unknown,
                "amounts_complete": unknown == 0,
            }
        )
        for key in ("imposed", "paid", "balance"):
            totals[key] += row[key] or 0
        totals["violations_with_unknown_amounts"] += unknown
    totals["amounts_complete"] = totals["violations_with_unknown_amounts"] == 0
    note = "sums cover only violations with known amounts; unknown amounts are counted, never taken as zero"
    return {"by_source": by_source, "totals": totals, "note": note}


@router.get("/{bbl}", summary="The property page")
def property_page(request: Request, bbl: BblPath, _: CityReader) -> dict[str, Any]:
    deps = deps_of(request)
    today = city_today(deps.now())
    with deps.pool.connection() as conn:
        attributes = queries.attributes(conn, bbl)
        if attributes is None and not queries.has_records(conn, bbl):
            raise not_found(f"property {bbl}")
        buildings = queries.buildings(conn, bbl)
        open_rows = queries.open_by_source_class(conn, bbl)
        deadlines = queries.open_with_deadlines(conn, bbl)
        exposure = queries.exposure_by_source(conn, bbl)
        complaints = queries.recent_complaints(conn, bbl)
        freshness = queries.data_freshness(conn)
        quality = quality_of(conn, bbl)
    by_source: dict[str, dict[str, Any]] = {}
    for row in open_rows:
        entry = by_source.setdefault(row["source"], {"source": row["source"], "open": 0, "by_class": {}})
        entry["open"] += row["open"]
        entry["by_class"][row["class"]] = row["open"]
    return {
        "bbl": bbl,
        "attributes": attributes,
        "buildings": [{**b, "bin": b["bin"].strip()} for b in buildings],
        "open_violations": {"total": sum(e["open"] for e in by_source.values()), "by_source": list(by_source.values())},
        "deadlines": _deadlines(deadlines, today),
        "penalties": _exposure(exposure),
        "recent_complaints": complaints,
        "data_freshness": freshness,
        # Stored records of this lot whose source values had problems (field, raw value, reason): a NULL date
        # or amount above is explained here, never silently missing.
        "data_quality": quality,
    }
