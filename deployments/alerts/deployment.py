"""AlertService: the Serve deployment for rule validation, dry-runs and on-demand evaluation.

A shell over sentinel.alerts.on_demand (which goes through the same engine as the scheduled evaluations): it owns
the connection pool and parses what crosses the Serve handle."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from ray import serve

from deployments.alerts.client import LocalAlerts
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
class AlertService(LocalAlerts):
    def __init__(self, args: dict[str, Any]) -> None:
        cfg = resolve(args)
        self.pool = create_pool(cfg.database_url, min_size=1, max_size=4, name="alert-service")
        super().__init__(OnDemandAlerts(self.pool.connection))

    async def validate(self, rule: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"rule": AlertRule.model_validate(rule).model_dump(mode="json"), "errors": None}
        except ValidationError as exc:
            return {"rule": None, "errors": exc.errors(include_url=False, include_context=False)}
