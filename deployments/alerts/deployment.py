"""AlertService: the Serve deployment for rule validation, dry-runs and on-demand evaluation.

A shell over sentinel.alerts.on_demand (which goes through the same engine as the scheduled evaluations): it owns
the connection pool and parses what crosses the Serve handle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio
from pydantic import ValidationError
from ray import serve

from deployments.config import resolve
from sentinel.alerts import AlertRule
from sentinel.alerts.on_demand import OnDemandAlerts
from sentinel.db.pool import create_pool


@serve.deployment(
    name="AlertService",
    logging_config={"enable_access_log": False},
    ray_actor_options={"num_cpus": 0.25},
    max_ongoing_requests=16,
    autoscaling_config={"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 4},
)
class AlertService:
    def __init__(self, args: dict[str, Any]) -> None:
        cfg = resolve(args)
        self.pool = create_pool(cfg.database_url, min_size=1, max_size=4, name="alert-service")
        self.engine = OnDemandAlerts(self.pool.connection)

    async def validate(self, rule: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"rule": AlertRule.model_validate(rule).model_dump(mode="json"), "errors": None}
        except ValidationError as exc:
            return {"rule": None, "errors": exc.errors(include_url=False, include_context=False)}

    async def dry_run(self, rule: dict[str, Any], now_iso: str) -> dict[str, Any]:
        parsed = AlertRule.model_validate(rule)
        return await anyio.to_thread.run_sync(self.engine.dry_run, parsed, datetime.fromisoformat(now_iso))

    async def evaluate(self, rules: list[dict[str, Any]], now_iso: str) -> dict[str, Any]:
        parsed = [AlertRule.model_validate(r) for r in rules]
        return await anyio.to_thread.run_sync(self.engine.evaluate, parsed, datetime.fromisoformat(now_iso))
