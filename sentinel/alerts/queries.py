"""An organization's alert rules (stored as the API accepts them) and its alert feed.

Every query takes the organization: another organization's rule or alert reads as a missing one. The writes run in
the caller's transaction, so the audit row commits with them. The engine loads rules for evaluation through
`sentinel.alerts.engine.load_rules`; these are the rows the API shows and edits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Jsonb

from sentinel.db.rows import all_dicts, one_dict

RULE_COLUMNS = (
    "id, name, condition, scope, channels, delivery, quiet_hours, cooldown_minutes, enabled, created_at, updated_at"
)
# A baseline alert was already open when its rule (or building, or dataset) started being watched: shown, never sent.
ALERT_COLUMNS = (
    "id, rule_id, bbl, trigger_key, title, payload, created_at, acknowledged_at, acknowledged_by, baseline,"
    " CASE WHEN baseline THEN 'baseline' ELSE 'event' END AS kind,"
    " CASE WHEN baseline THEN 'already open when monitoring began' END AS note"
)


@dataclass(frozen=True, slots=True)
class RuleValues:
    """A rule's editable fields, its JSON parts as JSON-ready data (a pydantic `model_dump(mode="json")`)."""

    name: str
    condition: dict[str, Any]
    scope: dict[str, Any]
    channels: list[dict[str, Any]]
    delivery: str
    quiet_hours: dict[str, Any] | None
    cooldown_minutes: int
    enabled: bool

    def params(self) -> tuple[Any, ...]:
        return (
            self.name,
            _jsonb(self.condition),
            _jsonb(self.scope),
            _jsonb(self.channels),
            self.delivery,
            _jsonb(self.quiet_hours) if self.quiet_hours is not None else None,
            self.cooldown_minutes,
            self.enabled,
        )


def _jsonb(value: Any) -> Jsonb:
    return Jsonb(value, dumps=lambda v: orjson.dumps(v).decode())


def list_rules(conn: psycopg.Connection[Any], org_id: int) -> list[dict[str, Any]]:
    sql = f"SELECT {RULE_COLUMNS} FROM alert_rules WHERE org_id = %s ORDER BY id"  # noqa: S608 -- constant SQL fragments; values are bound
    return all_dicts(conn, sql, (org_id,))


def get_rule(conn: psycopg.Connection[Any], rule_id: int, org_id: int) -> dict[str, Any] | None:
    return one_dict(conn, f"SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = %s AND org_id = %s", (rule_id, org_id))  # noqa: S608 -- constant SQL fragments; values are bound


def create_rule(
    conn: psycopg.Connection[Any], org_id: int, created_by: int | None, values: RuleValues
) -> dict[str, Any]:
    row = one_dict(
        conn,
        f"INSERT INTO alert_rules (name, condition, scope, channels, delivery, quiet_hours, cooldown_minutes, "  # noqa: S608 -- constant SQL fragments; values are bound
        f"enabled, org_id, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {RULE_COLUMNS}",
        (*values.params(), org_id, created_by),
    )
    assert row is not None  # INSERT ... RETURNING without ON CONFLICT returns its row
    return row


def replace_rule(conn: psycopg.Connection[Any], rule_id: int, org_id: int, values: RuleValues) -> dict[str, Any] | None:
    """The rule after the change, or None when the organization has no such rule."""
    return one_dict(
        conn,
        f"UPDATE alert_rules SET name = %s, condition = %s, scope = %s, channels = %s, delivery = %s, "  # noqa: S608 -- constant SQL fragments; values are bound
        f"quiet_hours = %s, cooldown_minutes = %s, enabled = %s, updated_at = now() "
        f"WHERE id = %s AND org_id = %s RETURNING {RULE_COLUMNS}",
        (*values.params(), rule_id, org_id),
    )


def delete_rule(conn: psycopg.Connection[Any], rule_id: int, org_id: int) -> bool:
    """Whether the organization had the rule (its alerts go with it)."""
    row = conn.execute("DELETE FROM alert_rules WHERE id = %s AND org_id = %s RETURNING id", (rule_id, org_id))
    return row.fetchone() is not None


@dataclass(frozen=True, slots=True)
class FeedFilter:
    """Which of an organization's alerts to list; None leaves a field unfiltered."""

    org_id: int
    acknowledged: bool | None = None
    baseline: bool | None = None
    rule_id: int | None = None
    bbl: str | None = None
    severities: Sequence[str] | None = None  # the triggering record's severity
    before_id: int | None = None  # the keyset cursor: only alerts older than this one


def feed(conn: psycopg.Connection[Any], f: FeedFilter, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` alerts, newest (highest id) first."""
    where: list[str] = ["org_id = %s"]
    params: list[Any] = [f.org_id]
    if f.acknowledged is not None:
        where.append("acknowledged_at IS NOT NULL" if f.acknowledged else "acknowledged_at IS NULL")
    if f.severities:
        where.append("payload->'record'->>'severity' = ANY(%s)")
        params.append(list(f.severities))
    for column, value in (("rule_id", f.rule_id), ("bbl", f.bbl), ("baseline", f.baseline)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if f.before_id is not None:
        where.append("id < %s")
        params.append(f.before_id)
    sql = f"SELECT {ALERT_COLUMNS} FROM alerts WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT %s"  # noqa: S608 -- constant SQL fragments; values are bound
    return all_dicts(conn, sql, [*params, limit])


def acknowledge(
    conn: psycopg.Connection[Any], alert_id: int, org_id: int, user_id: int | None
) -> dict[str, Any] | None:
    """The alert, acknowledged (the first acknowledgement's time and user stay), or None when not the org's."""
    return one_dict(
        conn,
        f"UPDATE alerts SET acknowledged_at = coalesce(acknowledged_at, now()), "  # noqa: S608 -- constant SQL fragments; values are bound
        f"acknowledged_by = coalesce(acknowledged_by, %s) WHERE id = %s AND org_id = %s RETURNING {ALERT_COLUMNS}",
        (user_id, alert_id, org_id),
    )
