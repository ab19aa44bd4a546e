"""/v1/violations and /v1/complaints: filtered lists with keyset pagination, and CSV export.

Pages are ordered newest first by (issued / received date, id); the cursor carries the last row's pair, so
paging stays fast and stable while new rows arrive (no OFFSET).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from psycopg.rows import dict_row
from pydantic import BeforeValidator

from deployments.api.errors import ApiError
from deployments.api.params import BBL_PATTERN, BIN_PATTERN, CSVResponse, decode_cursor, encode_cursor
from deployments.api.security import deps_of, require
from deployments.api.strict_query import refuse_unknown_query_params
from sentinel.auth.principal import Principal
from sentinel.auth.rbac import Permission

router = APIRouter(
    prefix="/v1", tags=["violations and complaints"], dependencies=[Depends(refuse_unknown_query_params)]
)
CityReader = Annotated[Principal, Depends(require(Permission.CITY_READ))]
NO_DATE = date(1, 1, 1)  # rows without a date sort last


@dataclass(frozen=True)
class Table:
    name: str
    date_column: str
    columns: tuple[str, ...]


VIOLATIONS = Table(
    "violations",
    "issued_date",
    (
        "id", "source", "source_id", "bbl", "bin", "borough", "class", "severity", "category", "description",
        "status", "status_raw", "issued_date", "status_date", "certify_by_date", "correct_by_date",
        "certified_date", "hearing_date", "penalty_imposed", "amount_paid", "balance_due", "updated_at",
    ),
)  # fmt: skip
COMPLAINTS = Table(
    "complaints",
    "received_date",
    (
        "id", "source", "source_id", "complaint_id", "bbl", "bin", "borough", "category", "subcategory",
        "priority", "status", "status_raw", "received_date", "status_date", "closed_date", "updated_at",
    ),
)  # fmt: skip


@dataclass
class Filters:
    source: list[str] | None
    status: Literal["open", "closed"] | None
    borough: int | None
    bbl: str | None
    bin: str | None
    date_from: date | None
    date_to: date | None
    klass: list[str] | None = None
    severity: list[str] | None = None
    category: str | None = None


def _where(table: Table, f: Filters) -> tuple[list[str], list[Any]]:
    where, params = ["NOT is_deleted"], []
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise ApiError(400, "invalid_date_range", "date_from is after date_to")
    for column, value in (("source", f.source), ("class", f.klass), ("severity", f.severity)):
        if value:
            where.append(f"{column} = ANY(%s)")
            params.append([v.upper() if column == "source" else v for v in value])
    for column, value in (("status", f.status), ("borough", f.borough), ("bbl", f.bbl), ("bin", f.bin)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if f.category:
        where.append("category ILIKE %s")
        params.append(f"%{f.category}%")
    if f.date_from:
        where.append(f"{table.date_column} >= %s")
        params.append(f.date_from)
    if f.date_to:
        where.append(f"{table.date_column} <= %s")
        params.append(f.date_to)
    return where, params


def _page(request: Request, table: Table, f: Filters, limit: int, cursor: str | None) -> dict[str, Any]:
    limit = min(limit, deps_of(request).settings.max_page_size)
    where, params = _where(table, f)
    sort = f"coalesce({table.date_column}, DATE '0001-01-01')"
    if cursor:
        last_date, last_id = decode_cursor(cursor, (date.fromisoformat, int))
        where.append(f"({sort}, id) < (%s, %s)")
        params += [last_date, last_id]
    sql = (
        f"SELECT {', '.join(table.columns)} FROM {table.name} WHERE {' AND '.join(where)} "  # noqa: S608 -- constant SQL fragments; values are bound
        f"ORDER BY {sort} DESC, id DESC LIMIT %s"
    )
    with deps_of(request).pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql, [*params, limit + 1]).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = encode_cursor([last[table.date_column] or NO_DATE, last["id"]])
    return {"items": rows, "next_cursor": next_cursor}


async def _export(request: Request, principal: Principal, table: Table, f: Filters, filename: str) -> Any:
    deps = deps_of(request)
    where, params = _where(table, f)
    sql = (
        f"SELECT {', '.join(table.columns)} FROM {table.name} WHERE {' AND '.join(where)} "  # noqa: S608 -- constant SQL fragments; values are bound
        f"ORDER BY coalesce({table.date_column}, DATE '0001-01-01') DESC, id DESC LIMIT %s"
    )
    return await deps.exports.open(principal.org_id, sql, [*params, deps.settings.csv_max_rows], filename)


_Upper = BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v)
# An unknown source is a 422 naming it, not a 200 with nothing in it.
ViolationSource = Annotated[Literal["HPD", "DOB", "DOB_SAFETY", "ECB", "HPD_VACATE"], _Upper]
ComplaintSource = Annotated[Literal["HPD", "DOB", "311"], _Upper]
ViolationSourceQ = Annotated[list[ViolationSource] | None, Query(description="one or more sources")]
ComplaintSourceQ = Annotated[list[ComplaintSource] | None, Query(description="one or more sources")]
StatusQ = Annotated[Literal["open", "closed"] | None, Query()]
BoroughQ = Annotated[int | None, Query(ge=1, le=5)]
BblQ = Annotated[str | None, Query(pattern=BBL_PATTERN)]
BinQ = Annotated[str | None, Query(pattern=BIN_PATTERN)]
DateQ = Annotated[date | None, Query()]
LimitQ = Annotated[int, Query(ge=1, le=500)]
CursorQ = Annotated[str | None, Query(max_length=200)]
ClassQ = Annotated[list[str] | None, Query(alias="class", description="the source's class, e.g. A, B, C")]
SeverityQ = Annotated[
    list[Literal["info", "non_hazardous", "hazardous", "immediately_hazardous", "unknown"]] | None, Query()
]


def violation_filters(
    source: ViolationSourceQ = None,
    klass: ClassQ = None,
    severity: SeverityQ = None,
    status: StatusQ = None,
    borough: BoroughQ = None,
    bbl: BblQ = None,
    bin: BinQ = None,
    date_from: DateQ = None,
    date_to: DateQ = None,
) -> Filters:
    return Filters(source, status, borough, bbl, bin, date_from, date_to, klass=klass, severity=severity)


def complaint_filters(
    source: ComplaintSourceQ = None,
    status: StatusQ = None,
    borough: BoroughQ = None,
    bbl: BblQ = None,
    bin: BinQ = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    date_from: DateQ = None,
    date_to: DateQ = None,
) -> Filters:
    return Filters(source, status, borough, bbl, bin, date_from, date_to, category=category)


@router.get("/violations", summary="Violations (newest first, keyset-paginated)")
def list_violations(
    request: Request,
    _: CityReader,
    filters: Annotated[Filters, Depends(violation_filters)],
    limit: LimitQ = 100,
    cursor: CursorQ = None,
) -> dict[str, Any]:
    return _page(request, VIOLATIONS, filters, limit, cursor)


@router.get("/violations/export.csv", summary="Violations as CSV", response_class=CSVResponse)
async def export_violations(
    request: Request, principal: CityReader, filters: Annotated[Filters, Depends(violation_filters)]
) -> Any:
    return await _export(request, principal, VIOLATIONS, filters, "violations.csv")


@router.get("/complaints", summary="Complaints (newest first, keyset-paginated)")
def list_complaints(
    request: Request,
    _: CityReader,
    filters: Annotated[Filters, Depends(complaint_filters)],
    limit: LimitQ = 100,
    cursor: CursorQ = None,
) -> dict[str, Any]:
    return _page(request, COMPLAINTS, filters, limit, cursor)


@router.get("/complaints/export.csv", summary="Complaints as CSV", response_class=CSVResponse)
async def export_complaints(
    request: Request, principal: CityReader, filters: Annotated[Filters, Depends(complaint_filters)]
) -> Any:
    return await _export(request, principal, COMPLAINTS, filters, "complaints.csv")
