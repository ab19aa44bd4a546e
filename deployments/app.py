"""The Serve application: Gateway (FastAPI ingress) -> RiskScorer, AlertService.

`serve deploy configs/serve.yaml` imports `deployments.app:app` (settings from the replicas' `VS_*`
environment); `build_app(args)` is the builder for other arguments (tests, `vsentinel serve`).
"""

from __future__ import annotations

from typing import Any

from ray.serve import Application

from deployments.alerts.deployment import AlertService
from deployments.config import AppArgs
from deployments.gateway import Gateway
from deployments.risk.deployment import RiskScorer

APP_NAME = "vsentinel"


def build_app(args: dict[str, Any] | None = None) -> Application:
    parsed = AppArgs.model_validate(args or {})  # fail at deploy time on a typo, not in a replica
    checked = parsed.model_dump()
    scorer = RiskScorer
    if parsed.scorer_replicas is not None:
        scorer = RiskScorer.options(num_replicas=parsed.scorer_replicas, autoscaling_config=None)
    return Gateway.bind(scorer.bind(checked), AlertService.bind(checked), checked)


app = build_app({})
