"""/v1/properties: search by address, BBL or BIN, and the property page. City data: any authenticated caller."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from psycopg.rows import dict_row

from deployments.api.errors import ApiError, not_found
from deployments.api.params import BBL_PATTERN, BIN_PATTERN, BblPath
from deployments.api.security import deps_of, require
from deployments.api.strict_query import refuse_unknown_query_params
from sentinel.auth.principal import Principal
from sentinel.auth.rbac import Permission
from sentinel.deadlines import city_today, days_left, days_overdue, is_overdue
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


_PROPERTY = """
    SELECT bbl, borough, block, lot, address, zip, units_res, units_total, num_floors, num_buildings, year_built,
           bldg_class, land_use, owner_type, owner_name, latitude, longitude, pluto_version, updated_at
    FROM properties WHERE bbl = %s
"""
_BUILDINGS = "SELECT bin, house_number, street_name, zip FROM buildings WHERE bbl = %s ORDER BY bin"
_OPEN_BY_CLASS = """
    SELECT source, coalesce(class, 'unknown') AS class, count(*) AS open
    FROM violations WHERE bbl = %s AND status = 'open' AND NOT is_deleted
    GROUP BY 1, 2 ORDER BY 1, 2
"""
_DEADLINES = """
    SELECT source, source_id, class, severity, description, certify_by_date, correct_by_date, hearing_date
    FROM violations
    WHERE bbl = %s AND status = 'open' AND NOT is_deleted
      AND (certify_by_date IS NOT NULL OR correct_by_date IS NOT NULL OR hearing_date IS NOT NULL)
    ORDER BY least(certify_by_date, correct_by_date, hearing_date) LIMIT 500
"""
_EXPOSURE = """
    SELECT source, count(*) AS violations,
           sum(penalty_imposed) AS imposed, sum(amount_paid) AS paid, sum(balance_due) AS balance,
           count(*) FILTER (WHERE penalty_imposed IS NULL) AS unknown_imposed,
           count(*) FILTER (WHERE balance_due IS NULL) AS unknown_balance
    FROM violations WHERE bbl = %s AND NOT is_deleted GROUP BY source ORDER BY source
"""
_COMPLAINTS = """
    SELECT source, source_id, category, subcategory, priority, status, received_date, closed_date, bbl_source
    FROM complaints WHERE bbl = %s AND NOT is_deleted
    ORDER BY received_date DESC NULLS LAST, id DESC LIMIT 10
"""
_FRESHNESS = """
    SELECT w.dataset, max(w.updated_at_mark) AS source_updated_through, max(w.updated_at) AS last_committed_at,
           bool_and(w.completed) AS complete,
           (SELECT max(r.finished_at) FROM ingestion_runs r
            WHERE r.status IN ('succeeded', 'partial') AND w.dataset = ANY(r.datasets)) AS last_run_finished_at
    FROM watermarks w GROUP BY w.dataset ORDER BY w.dataset
"""
_HAS_RECORDS = """
    SELECT (EXISTS (SELECT 1 FROM violations WHERE bbl = %s)
            OR EXISTS (SELECT 1 FROM complaints WHERE bbl = %s)) AS has_records
"""


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
    with deps.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        attributes = cur.execute(_PROPERTY, (bbl,)).fetchone()
        if attributes is None and not cur.execute(_HAS_RECORDS, (bbl, bbl)).fetchone()["has_records"]:
            raise not_found(f"property {bbl}")
        buildings = cur.execute(_BUILDINGS, (bbl,)).fetchall()
        open_rows = cur.execute(_OPEN_BY_CLASS, (bbl,)).fetchall()
        deadlines = cur.execute(_DEADLINES, (bbl,)).fetchall()
        exposure = cur.execute(_EXPOSURE, (bbl,)).fetchall()
        complaints = cur.execute(_COMPLAINTS, (bbl,)).fetchall()
        freshness = cur.execute(_FRESHNESS).fetchall()
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
