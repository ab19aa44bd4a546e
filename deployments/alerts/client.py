"""How the gateway reaches the alert service: in-process (uvicorn) or through the AlertService deployment."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import anyio

from sentinel.alerts import AlertRule
from sentinel.alerts.on_demand import OnDemandAlerts


class AlertClient(Protocol):
    async def dry_run(self, rule: dict[str, Any], now_iso: str) -> dict[str, Any]: ...
    async def evaluate(self, rules: list[dict[str, Any]], now_iso: str) -> dict[str, Any]: ...


class LocalAlerts:
    """The engine's calls as the gateway makes them (rules as dicts, time as ISO text), off the event loop; the
    AlertService deployment is this class behind a Serve handle."""

    def __init__(self, engine: OnDemandAlerts) -> None:
        self.engine = engine

    async def dry_run(self, rule: dict[str, Any], now_iso: str) -> dict[str, Any]:
        parsed = AlertRule.model_validate(rule)
        return await anyio.to_thread.run_sync(self.engine.dry_run, parsed, datetime.fromisoformat(now_iso))

    async def evaluate(self, rules: list[dict[str, Any]], now_iso: str) -> dict[str, Any]:
        parsed = [AlertRule.model_validate(r) for r in rules]
        return await anyio.to_thread.run_sync(self.engine.evaluate, parsed, datetime.fromisoformat(now_iso))
