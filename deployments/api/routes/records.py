"""/v1/violations and /v1/complaints: filtered lists with keyset pagination, and CSV export.

Pages are ordered newest first by (issued / received date, id) (sentinel/record_lists.py); the cursor carries the
last row's pair, so paging stays fast and stable while new rows arrive (no OFFSET).
"""

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BeforeValidator

from deployments.api.errors import ApiError
from deployments.api.params import BBL_PATTERN, BIN_PATTERN, CSVResponse, decode_cursor, encode_cursor
from deployments.api.security import deps_of, require
from deployments.api.strict_query import refuse_unknown_query_params
from sentinel import record_lists
from sentinel.auth.principal import Principal
from sentinel.auth.rbac import Permission
from sentinel.record_lists import COMPLAINTS, NO_DATE, VIOLATIONS, Filters, Table

router = APIRouter(
    prefix="/v1", tags=["violations and complaints"], dependencies=[Depends(refuse_unknown_query_params)]
)
CityReader = Annotated[Principal, Depends(require(Permission.CITY_READ))]


def _check_dates(f: Filters) -> None:
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise ApiError(400, "invalid_date_range", "date_from is after date_to")


def _page(request: Request, table: Table, f: Filters, limit: int, cursor: str | None) -> dict[str, Any]:
    _check_dates(f)
    limit = min(limit, deps_of(request).settings.max_page_size)
    after = None
    if cursor:
        last_date, last_id = decode_cursor(cursor, (date.fromisoformat, int))
        after = (last_date, last_id)
    with deps_of(request).pool.connection() as conn:
        rows = record_lists.page(conn, table, f, limit + 1, after)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = encode_cursor([last[table.date_column] or NO_DATE, last["id"]])
    return {"items": rows, "next_cursor": next_cursor}


async def _export(request: Request, principal: Principal, table: Table, f: Filters, filename: str) -> Any:
    deps = deps_of(request)
    _check_dates(f)
    sql, params = record_lists.export_query(table, f, deps.settings.csv_max_rows)
    return await deps.exports.open(principal.org_id, sql, params, filename)


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


def _add_routes(table: Table, filters_of: Callable[..., Filters], path: str, summary: str) -> None:
    """The list and the CSV export of one table: the two tables' routes differ only in their filters. The routes'
    annotations name this function's arguments, so the module evaluates annotations at once (no
    `from __future__ import annotations`: FastAPI could not resolve a closure's names later)."""
    key = path.removeprefix("/")

    # `name` keeps each operation's id (`list_violations_...`) as the web app's generated types know it.
    @router.get(path, summary=f"{summary} (newest first, keyset-paginated)", name=f"list_{key}")
    def list_records(
        request: Request,
        _: CityReader,
        filters: Annotated[Filters, Depends(filters_of)],
        limit: LimitQ = 100,
        cursor: CursorQ = None,
    ) -> dict[str, Any]:
        return _page(request, table, filters, limit, cursor)

    @router.get(f"{path}/export.csv", summary=f"{summary} as CSV", response_class=CSVResponse, name=f"export_{key}")
    async def export_records(
        request: Request, principal: CityReader, filters: Annotated[Filters, Depends(filters_of)]
    ) -> Any:
        return await _export(request, principal, table, filters, f"{key}.csv")


_add_routes(VIOLATIONS, violation_filters, "/violations", "Violations")
_add_routes(COMPLAINTS, complaint_filters, "/complaints", "Complaints")
