"""/v1/alert-rules (CRUD, dry-run, evaluate now) and /v1/alerts (the feed, acknowledge).

Rule bodies are validated by the sentinel.alerts models themselves (the same ones the engine evaluates), so a
rule the API accepts is a rule the engine can run. Everything is scoped to the caller's organization.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field, ValidationError

from deployments.api.errors import ApiError, not_found
from deployments.api.params import BBL_PATTERN, decode_cursor, encode_cursor
from deployments.api.responses import dumps
from deployments.api.security import audit, deps_of, require
from deployments.api.strict_query import refuse_unknown_query_params
from sentinel.alerts import AlertRule, ChannelTarget, QuietHours
from sentinel.alerts.conditions import Condition
from sentinel.alerts.events import Severity
from sentinel.alerts.limits import RuleRejectedError, check_rule
from sentinel.alerts.rules import Delivery
from sentinel.alerts.scope import PortfolioScope, Scope
from sentinel.auth.principal import Principal
from sentinel.auth.rbac import Permission

router = APIRouter(prefix="/v1", tags=["alerts"], dependencies=[Depends(refuse_unknown_query_params)])
RulesReader = Annotated[Principal, Depends(require(Permission.ALERT_RULES_READ))]
RulesWriter = Annotated[Principal, Depends(require(Permission.ALERT_RULES_WRITE))]
AlertsReader = Annotated[Principal, Depends(require(Permission.ALERTS_READ))]
AlertsAcker = Annotated[Principal, Depends(require(Permission.ALERTS_ACKNOWLEDGE))]


class RuleBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    condition: Condition
    scope: Scope
    channels: list[ChannelTarget] = Field(default_factory=list, max_length=20)
    delivery: Delivery = "immediate"
    quiet_hours: QuietHours | None = None
    cooldown_minutes: int = Field(default=0, ge=0, le=7 * 24 * 60)
    enabled: bool = True


class Rule(RuleBody):
    id: int
    created_at: datetime
    updated_at: datetime


class DryRunResult(BaseModel):
    would_have_fired: int
    days: int
    window: dict[str, str] | None = Field(default=None, description="the city dates counted, by the records' own dates")
    examples: list[dict[str, Any]]
    approximate: bool = Field(description="deadline/balance/freshness rules are replayed against today's state")


def _jsonb(value: Any) -> Jsonb:
    return Jsonb(value, dumps=lambda v: dumps(v).decode())


_RULE_COLUMNS = (
    "id, name, condition, scope, channels, delivery, quiet_hours, cooldown_minutes, enabled, created_at, updated_at"
)


def _check_contents(request: Request, body: RuleBody) -> None:
    """Bounded contents and reachable targets (sentinel.alerts.limits): 422 naming each field and why."""
    try:
        check_rule(body.condition, body.scope, body.channels, deps_of(request).outbound)
    except RuleRejectedError as exc:
        raise ApiError(422, "invalid_rule", str(exc), {"problems": exc.problems}) from None


def _check_scope(conn: Any, body: RuleBody, org_id: int) -> None:
    if isinstance(body.scope, PortfolioScope):
        owned = {
            r[0]
            for r in conn.execute(
                "SELECT id FROM portfolios WHERE org_id = %s AND id = ANY(%s)", (org_id, list(body.scope.portfolio_ids))
            )
        }
        unknown = sorted(set(body.scope.portfolio_ids) - owned)
        if unknown:
            raise ApiError(422, "invalid_rule", f"unknown portfolio ids in scope: {unknown}")


def _rule_params(body: RuleBody) -> tuple[Any, ...]:
    data = body.model_dump(mode="json")
    return (
        body.name,
        _jsonb(data["condition"]),
        _jsonb(data["scope"]),
        _jsonb(data["channels"]),
        body.delivery,
        _jsonb(data["quiet_hours"]) if body.quiet_hours else None,
        body.cooldown_minutes,
        body.enabled,
    )


def _engine_rule(row: dict[str, Any], org_id: int, timezone: str) -> dict[str, Any]:
    """The rule as sentinel.alerts.AlertRule data (validated again: what the engine will run)."""
    try:
        rule = AlertRule.from_row({**row, "org_id": org_id}, timezone=timezone)
    except ValidationError as exc:
        raise ApiError(422, "invalid_rule", "the rule is not valid", exc.errors(include_url=False)) from None
    return rule.model_dump(mode="json")


def _timezone(conn: Any, org_id: int) -> str:
    row = conn.execute("SELECT timezone FROM organizations WHERE id = %s", (org_id,)).fetchone()
    return row[0] if row else "America/New_York"


@router.get("/alert-rules", response_model=list[Rule], summary="The organization's alert rules")
def list_rules(request: Request, principal: RulesReader) -> list[dict[str, Any]]:
    with deps_of(request).pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {_RULE_COLUMNS} FROM alert_rules WHERE org_id = %s ORDER BY id",  # noqa: S608 -- constant SQL fragments; values are bound
            (principal.org_id,),
        ).fetchall()


@router.post("/alert-rules", response_model=Rule, status_code=201, summary="Create an alert rule")
def create_rule(request: Request, body: RuleBody, principal: RulesWriter) -> dict[str, Any]:
    _check_contents(request, body)
    with deps_of(request).pool.connection() as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        _check_scope(conn, body, principal.org_id)
        row = cur.execute(
            f"INSERT INTO alert_rules (name, condition, scope, channels, delivery, quiet_hours, cooldown_minutes, "  # noqa: S608 -- constant SQL fragments; values are bound
            f"enabled, org_id, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_RULE_COLUMNS}",
            (*_rule_params(body), principal.org_id, principal.user_id),
        ).fetchone()
        assert row is not None
        audit(conn, principal, "alert_rule.create", f"alert_rule:{row['id']}", {"name": body.name})
    return row


def _get_rule(conn: Any, rule_id: int, org_id: int) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {_RULE_COLUMNS} FROM alert_rules WHERE id = %s AND org_id = %s",  # noqa: S608 -- constant SQL fragments; values are bound
            (rule_id, org_id),
        ).fetchone()
    if row is None:
        raise not_found(f"alert rule {rule_id}")
    return row


@router.get("/alert-rules/{rule_id}", response_model=Rule, summary="One alert rule")
def get_rule(request: Request, rule_id: int, principal: RulesReader) -> dict[str, Any]:
    with deps_of(request).pool.connection() as conn:
        return _get_rule(conn, rule_id, principal.org_id)


@router.put("/alert-rules/{rule_id}", response_model=Rule, summary="Replace an alert rule")
def replace_rule(request: Request, rule_id: int, body: RuleBody, principal: RulesWriter) -> dict[str, Any]:
    _check_contents(request, body)
    with deps_of(request).pool.connection() as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        _check_scope(conn, body, principal.org_id)
        row = cur.execute(
            f"UPDATE alert_rules SET name = %s, condition = %s, scope = %s, channels = %s, delivery = %s, "  # noqa: S608 -- constant SQL fragments; values are bound
            f"quiet_hours = %s, cooldown_minutes = %s, enabled = %s, updated_at = now() "
            f"WHERE id = %s AND org_id = %s RETURNING {_RULE_COLUMNS}",
            (*_rule_params(body), rule_id, principal.org_id),
        ).fetchone()
        if row is None:
            raise not_found(f"alert rule {rule_id}")
        audit(conn, principal, "alert_rule.update", f"alert_rule:{rule_id}", {"name": body.name})
    return row


@router.delete("/alert-rules/{rule_id}", status_code=204, summary="Delete an alert rule (and its alerts)")
def delete_rule(request: Request, rule_id: int, principal: RulesWriter) -> None:
    with deps_of(request).pool.connection() as conn, conn.transaction():
        row = conn.execute(
            "DELETE FROM alert_rules WHERE id = %s AND org_id = %s RETURNING id", (rule_id, principal.org_id)
        ).fetchone()
        if row is None:
            raise not_found(f"alert rule {rule_id}")
        audit(conn, principal, "alert_rule.delete", f"alert_rule:{rule_id}")


@router.post("/alert-rules/dry-run", response_model=DryRunResult, summary="Would this rule have fired? (30 days)")
async def dry_run_new_rule(request: Request, body: RuleBody, principal: RulesReader) -> dict[str, Any]:
    deps = deps_of(request)
    _check_contents(request, body)
    with deps.pool.connection() as conn:
        _check_scope(conn, body, principal.org_id)
        timezone = _timezone(conn, principal.org_id)
    rule = _engine_rule({**body.model_dump(mode="json"), "id": 0}, principal.org_id, timezone)
    return await deps.alerts.dry_run(rule, deps.now().isoformat())


@router.post("/alert-rules/{rule_id}/dry-run", response_model=DryRunResult, summary="Dry-run a stored rule")
async def dry_run_rule(request: Request, rule_id: int, principal: RulesReader) -> dict[str, Any]:
    deps = deps_of(request)
    with deps.pool.connection() as conn:
        row = _get_rule(conn, rule_id, principal.org_id)
        timezone = _timezone(conn, principal.org_id)
    return await deps.alerts.dry_run(_engine_rule(row, principal.org_id, timezone), deps.now().isoformat())


@router.post(
    "/alert-rules/{rule_id}/evaluate",
    summary="Evaluate a rule now (what the last day brought, its deadline checks), creating and notifying alerts",
)
async def evaluate_rule(request: Request, rule_id: int, principal: RulesWriter) -> dict[str, Any]:
    deps = deps_of(request)
    with deps.pool.connection() as conn:
        row = _get_rule(conn, rule_id, principal.org_id)
        timezone = _timezone(conn, principal.org_id)
    result = await deps.alerts.evaluate([_engine_rule(row, principal.org_id, timezone)], deps.now().isoformat())
    with deps.pool.connection() as conn, conn.transaction():
        audit(conn, principal, "alert_rule.evaluate", f"alert_rule:{rule_id}", result)
    return result


# A baseline alert was already open when its rule (or building, or dataset) started being watched: shown, never sent.
_ALERT_COLUMNS = (
    "id, rule_id, bbl, trigger_key, title, payload, created_at, acknowledged_at, acknowledged_by, baseline,"
    " CASE WHEN baseline THEN 'baseline' ELSE 'event' END AS kind,"
    " CASE WHEN baseline THEN 'already open when monitoring began' END AS note"
)


@router.get("/alerts", summary="The organization's alert feed (newest first, keyset-paginated)")
def alert_feed(
    request: Request,
    principal: AlertsReader,
    acknowledged: bool | None = None,
    baseline: Annotated[bool | None, Query(description="false: only what happened since monitoring began")] = None,
    rule_id: int | None = None,
    bbl: Annotated[str | None, Query(pattern=BBL_PATTERN)] = None,
    severity: Annotated[list[Severity] | None, Query(description="the triggering violation's severity")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    where, params = ["org_id = %s"], [principal.org_id]
    if acknowledged is not None:
        where.append("acknowledged_at IS NOT NULL" if acknowledged else "acknowledged_at IS NULL")
    if severity:
        where.append("payload->'record'->>'severity' = ANY(%s)")
        params.append(list(severity))
    for column, value in (("rule_id", rule_id), ("bbl", bbl), ("baseline", baseline)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if cursor:
        (last_id,) = decode_cursor(cursor, (int,))
        where.append("id < %s")
        params.append(last_id)
    sql = f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT %s"  # noqa: S608 -- constant SQL fragments; values are bound
    with deps_of(request).pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql, [*params, limit + 1]).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor([rows[-1]["id"]]) if more else None}


@router.post("/alerts/{alert_id}/acknowledge", summary="Acknowledge an alert")
def acknowledge(request: Request, alert_id: int, principal: AlertsAcker) -> dict[str, Any]:
    with deps_of(request).pool.connection() as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"UPDATE alerts SET acknowledged_at = coalesce(acknowledged_at, now()), "  # noqa: S608 -- constant SQL fragments; values are bound
            f"acknowledged_by = coalesce(acknowledged_by, %s) WHERE id = %s AND org_id = %s RETURNING {_ALERT_COLUMNS}",
            (principal.user_id, alert_id, principal.org_id),
        ).fetchone()
        if row is None:
            raise not_found(f"alert {alert_id}")
        audit(conn, principal, "alert.acknowledge", f"alert:{alert_id}")
    return row
