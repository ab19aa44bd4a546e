"""The Serve application: Gateway (FastAPI ingress) -> RiskScorer, AlertService.

`serve deploy configs/serve.yaml` (and the KubeRay RayService, deploy/k8s) calls the builder `build_app(args)` with
the config's `args`, which reach every replica; what they leave out each replica reads from its `VS_*` environment
(deployments/config.py). `app` is the same application with no arguments.
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
