"""Gateway-side clients of the RiskScorer and AlertService deployments (Serve handles).

A call that fails because a replica died (killed, crashed, being replaced) is retried on another replica a few
times: scoring and dry-runs are idempotent, so a retry cannot double anything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError
from ray.serve.exceptions import RayServeException

from deployments.risk.client import Refresher

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRYABLE = (RayActorError, ActorDiedError, ActorUnavailableError, RayServeException)


async def with_retries(call: Callable[[], Awaitable[T]], what: str, attempts: int = 3) -> T:
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except RETRYABLE as exc:
            if attempt == attempts:
                raise
            log.warning("%s failed on a lost replica (%r); retrying (%d/%d)", what, exc, attempt, attempts - 1)
            await asyncio.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


class RemoteScorer:
    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.refresher = Refresher()

    async def compute(self, bbls: Sequence[str]) -> dict[str, Any]:
        return await with_retries(lambda: self.handle.compute.remote(list(bbls)), "scorer.compute")

    def refresh_in_background(self, bbls: Sequence[str]) -> None:
        async def send(todo: list[str]) -> None:
            await with_retries(lambda: self.handle.refresh.remote(todo), "scorer.refresh")

        self.refresher.start(bbls, send)

    async def status(self) -> dict[str, Any]:
        return await with_retries(lambda: self.handle.status.remote(), "scorer.status")


class RemoteAlerts:
    def __init__(self, handle: Any) -> None:
        self.handle = handle

    async def dry_run(self, rule: dict[str, Any], now_iso: str) -> dict[str, Any]:
        return await with_retries(lambda: self.handle.dry_run.remote(rule, now_iso), "alerts.dry_run")

    async def evaluate(self, rules: list[dict[str, Any]], now_iso: str) -> dict[str, Any]:
        return await with_retries(lambda: self.handle.evaluate.remote(rules, now_iso), "alerts.evaluate")
