"""Fault injection: a seeded share of 429 / 503 / 202 answers and added latency, like the live portal."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

FAULT_STATUSES = (429, 503, 202)

# Bodies as Socrata sends them; clients only need the status, but an ingester may log the message.
FAULT_BODIES: dict[int, dict[str, Any]] = {
    429: {"code": "too_many_requests", "error": True, "message": "Too many requests, please slow down"},
    503: {"code": "service_unavailable", "error": True, "message": "Service unavailable, try again later"},
    202: {"code": "processing", "error": False, "message": "Your request is being processed, retry it"},
}


@dataclass(frozen=True)
class FaultConfig:
    rates: dict[int, float] = field(default_factory=dict)  # status -> share of requests, summing to <= 1
    latency_ms: float = 0.0
    seed: int = 0
    # Only requests whose path starts with this draw a fault ("/api/views/": the metadata API down while the
    # resources answer); None: every data request.
    path: str | None = None

    def __post_init__(self) -> None:
        bad = [s for s in self.rates if s not in FAULT_STATUSES]
        if bad:
            raise ValueError(f"unsupported fault statuses {bad}; use {FAULT_STATUSES}")
        if any(r < 0 for r in self.rates.values()) or sum(self.rates.values()) > 1:
            raise ValueError(f"fault rates must be >= 0 and sum to <= 1, got {self.rates}")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")

    @classmethod
    def parse(cls, spec: str | None) -> FaultConfig:
        """`429=0.1,503=0.05,202=0.02,latency_ms=50,seed=7[,path=/api/views/]` (the CLI's --faults)."""
        rates: dict[int, float] = {}
        latency, seed = 0.0, 0
        path: str | None = None
        for part in (spec or "").split(","):
            if not part.strip():
                continue
            key, _, value = part.partition("=")
            key = key.strip()
            if key == "latency_ms":
                latency = float(value)
            elif key == "seed":
                seed = int(value)
            elif key == "path":
                path = value.strip() or None
            elif key.isdigit():
                rates[int(key)] = float(value)
            else:
                raise ValueError(f"bad fault spec {part!r}")
        return cls(rates, latency, seed, path)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultConfig:
        rates = {int(k): float(v) for k, v in data.items() if str(k).isdigit()}
        rates.update({int(k): float(v) for k, v in (data.get("rates") or {}).items()})
        return cls(rates, float(data.get("latency_ms", 0)), int(data.get("seed", 0)), data.get("path") or None)

    def to_json(self) -> dict[str, Any]:
        return {
            "rates": {str(k): v for k, v in self.rates.items()},
            "latency_ms": self.latency_ms,
            "seed": self.seed,
            "path": self.path,
        }


class FaultInjector:
    """Draws one fault decision per request from a seeded RNG, so a test run is reproducible."""

    def __init__(self, config: FaultConfig | None = None):
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)

    def draw(self, path: str = "") -> int | None:
        """The status to answer instead of the real response to a request of `path`, or None."""
        with self._lock:
            if not self.config.rates or (self.config.path and not path.startswith(self.config.path)):
                return None
            u = self._rng.random()
        acc = 0.0
        for status in FAULT_STATUSES:
            acc += self.config.rates.get(status, 0.0)
            if u < acc:
                return status
        return None
