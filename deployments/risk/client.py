"""How the gateway reaches the scorer: in-process (plain uvicorn) or through a Serve handle (RiskScorer).

Both answer the same three calls with plain data, so the gateway code is one. Results carry a reason instead of
raising for "no model", because exceptions crossing a Serve handle arrive wrapped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import anyio

from sentinel.risk.service import ModelUnavailableError, ScoreService

log = logging.getLogger(__name__)


class ScorerClient(Protocol):
    async def compute(self, bbls: Sequence[str]) -> dict[str, Any]:
        """{"scores": [Score...], "unavailable": reason or None}"""
        ...

    def refresh_in_background(self, bbls: Sequence[str]) -> None: ...

    async def status(self) -> dict[str, Any]: ...


class Refresher:
    """Background recomputes, at most one in flight per building (stale-while-revalidate)."""

    def __init__(self) -> None:
        self.in_flight: set[str] = set()
        self.tasks: set[asyncio.Task[Any]] = set()

    def start(self, bbls: Sequence[str], work: Any) -> None:
        todo = [b for b in bbls if b not in self.in_flight]
        if not todo:
            return
        self.in_flight.update(todo)

        async def run() -> None:
            try:
                await work(todo)
            except Exception:
                log.exception("background rescoring of %d buildings failed", len(todo))
            finally:
                self.in_flight.difference_update(todo)

        task = asyncio.get_running_loop().create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


async def compute(service: ScoreService, bbls: Sequence[str]) -> dict[str, Any]:
    """Score `bbls` off the event loop; "no model" comes back as a reason, not an exception."""
    try:
        scores = await anyio.to_thread.run_sync(service.compute, list(bbls))
    except ModelUnavailableError as exc:
        return {"scores": [], "unavailable": str(exc)}
    return {"scores": scores, "unavailable": None}


class LocalScorer:
    def __init__(self, service: ScoreService) -> None:
        self.service = service
        self.refresher = Refresher()

    async def compute(self, bbls: Sequence[str]) -> dict[str, Any]:
        return await compute(self.service, bbls)

    def refresh_in_background(self, bbls: Sequence[str]) -> None:
        self.refresher.start(bbls, self.compute)

    async def status(self) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(self.service.status)
