"""/v1/alert-rules (CRUD, dry-run, evaluate now) and /v1/alerts (the feed, acknowledge).

Rule bodies are validated by the sentinel.alerts models themselves (the same ones the engine evaluates), so a
rule the API accepts is a rule the engine can run. Everything is scoped to the caller's organization.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, ValidationError

from deployments.api.errors import ApiError, not_found
from deployments.api.params import BBL_PATTERN, decode_cursor, encode_cursor
from deployments.api.security import audit, deps_of, require
from deployments.api.strict_query import refuse_unknown_query_params
from sentinel.alerts import AlertRule, ChannelTarget, QuietHours, queries
from sentinel.alerts.conditions import Condition
from sentinel.alerts.events import Severity
from sentinel.alerts.limits import RuleRejectedError, check_rule
from sentinel.alerts.rules import DEFAULT_TIMEZONE, Delivery
from sentinel.alerts.scope import PortfolioScope, Scope
from sentinel.auth.organizations import timezone_of
from sentinel.auth.principal import Principal
from sentinel.auth.rbac import Permission
from sentinel.portfolios.queries import owned_ids

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


def _check_contents(request: Request, body: RuleBody) -> None:
    """Bounded contents and reachable targets (sentinel.alerts.limits): 422 naming each field and why."""
    try:
        check_rule(body.condition, body.scope, body.channels, deps_of(request).outbound)
    except RuleRejectedError as exc:
        raise ApiError(422, "invalid_rule", str(exc), {"problems": exc.problems}) from None


def _check_scope(conn: Any, body: RuleBody, org_id: int) -> None:
    if isinstance(body.scope, PortfolioScope):
        owned = owned_ids(conn, org_id, list(body.scope.portfolio_ids))
        unknown = sorted(set(body.scope.portfolio_ids) - owned)
        if unknown:
            raise ApiError(422, "invalid_rule", f"unknown portfolio ids in scope: {unknown}")


def _rule_values(body: RuleBody) -> queries.RuleValues:
    data = body.model_dump(mode="json")
    return queries.RuleValues(
        name=body.name,
        condition=data["condition"],
        scope=data["scope"],
        channels=data["channels"],
        delivery=body.delivery,
        quiet_hours=data["quiet_hours"] if body.quiet_hours else None,
        cooldown_minutes=body.cooldown_minutes,
        enabled=body.enabled,
    )


def _engine_rule(row: dict[str, Any], org_id: int, timezone: str) -> dict[str, Any]:
    """The rule as sentinel.alerts.AlertRule data (validated again: what the engine will run)."""
    try:
        rule = AlertRule.from_row({**row, "org_id": org_id}, timezone=timezone)
    except ValidationError as exc:
        raise ApiError(422, "invalid_rule", "the rule is not valid", exc.errors(include_url=False)) from None
    return rule.model_dump(mode="json")


def _timezone(conn: Any, org_id: int) -> str:
    return timezone_of(conn, org_id) or DEFAULT_TIMEZONE


@router.get("/alert-rules", response_model=list[Rule], summary="The organization's alert rules")
def list_rules(request: Request, principal: RulesReader) -> list[dict[str, Any]]:
    with deps_of(request).pool.connection() as conn:
        return queries.list_rules(conn, principal.org_id)


@router.post("/alert-rules", response_model=Rule, status_code=201, summary="Create an alert rule")
def create_rule(request: Request, body: RuleBody, principal: RulesWriter) -> dict[str, Any]:
    _check_contents(request, body)
    with deps_of(request).pool.connection() as conn, conn.transaction():
        _check_scope(conn, body, principal.org_id)
        row = queries.create_rule(conn, principal.org_id, principal.user_id, _rule_values(body))
        audit(conn, principal, "alert_rule.create", f"alert_rule:{row['id']}", {"name": body.name})
    return row


def _get_rule(conn: Any, rule_id: int, org_id: int) -> dict[str, Any]:
    row = queries.get_rule(conn, rule_id, org_id)
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
    with deps_of(request).pool.connection() as conn, conn.transaction():
        _check_scope(conn, body, principal.org_id)
        row = queries.replace_rule(conn, rule_id, principal.org_id, _rule_values(body))
        if row is None:
            raise not_found(f"alert rule {rule_id}")
        audit(conn, principal, "alert_rule.update", f"alert_rule:{rule_id}", {"name": body.name})
    return row


@router.delete("/alert-rules/{rule_id}", status_code=204, summary="Delete an alert rule (and its alerts)")
def delete_rule(request: Request, rule_id: int, principal: RulesWriter) -> None:
    with deps_of(request).pool.connection() as conn, conn.transaction():
        if not queries.delete_rule(conn, rule_id, principal.org_id):
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
    before_id = None
    if cursor:
        (before_id,) = decode_cursor(cursor, (int,))
    selected = queries.FeedFilter(
        org_id=principal.org_id,
        acknowledged=acknowledged,
        baseline=baseline,
        rule_id=rule_id,
        bbl=bbl,
        severities=list(severity) if severity else None,
        before_id=before_id,
    )
    with deps_of(request).pool.connection() as conn:
        rows = queries.feed(conn, selected, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor([rows[-1]["id"]]) if more else None}


@router.post("/alerts/{alert_id}/acknowledge", summary="Acknowledge an alert")
def acknowledge(request: Request, alert_id: int, principal: AlertsAcker) -> dict[str, Any]:
    with deps_of(request).pool.connection() as conn, conn.transaction():
        row = queries.acknowledge(conn, alert_id, principal.org_id, principal.user_id)
        if row is None:
            raise not_found(f"alert {alert_id}")
        audit(conn, principal, "alert.acknowledge", f"alert:{alert_id}")
    return row
