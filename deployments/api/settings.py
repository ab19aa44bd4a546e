"""API settings: `VS_API_*` variables (the shared `Settings` stays free of gateway knobs).

| variable | default | meaning |
|---|---|---|
| VS_API_CORS_ORIGINS | [] | JSON list of allowed browser origins (empty: CORS off) |
| VS_API_RATE_LIMIT | 1200/minute | per API key, else per user, else per client IP |
| VS_API_AUTH_RATE_LIMIT | 30/minute | per client IP on the token and refresh endpoints |
| VS_API_AUTH_FAILURE_LIMIT | 30/minute | failed token or API-key authentications per client IP (then 429) |
| VS_API_LOGIN_FAILURES_PER_CLIENT | 5/minute;10/15 minutes;20/hour | wrong passwords per (account, client IP) |
| VS_API_LOGIN_FAILURES_PER_ACCOUNT | 20/15 minutes;100/day | wrong passwords per account, from any address |
| VS_API_USER_STATE_CACHE_SECONDS | 5 | how long a user's active flag, role and session generation are cached |
| VS_API_TRUSTED_PROXIES | unset | proxies (CIDRs) whose X-Forwarded-For is believed; unset: see below |
| VS_API_ACCESS_TOKEN_MINUTES | 15 | lifetime of a JWT access token |
| VS_API_REFRESH_TOKEN_DAYS | 7 | lifetime of a refresh token |
| VS_API_SCORE_CACHE_SECONDS | 300 | how long a stored score stays in Redis |
| VS_API_KEY_USE_AUDIT_SECONDS | 0 | write the `api_key.used` audit row at most this often per key (0: every use) |
| VS_API_MODEL_POLL_SECONDS | 10 | how often the scorer checks the models table for a promotion |
| VS_API_CSV_MAX_ROWS | 100000 | the most rows one CSV export returns |
| VS_API_EXPORTS_PER_ORG | 2 | CSV exports one organization may run at once, across replicas (429 beyond) |
| VS_API_EXPORT_CONNECTIONS | 4 | connections (and threads) for exports per process, apart from the request pool |
| VS_API_EXPORT_MAX_SECONDS | 300 | an export still streaming after this is cut (the client sees an incomplete body) |
| VS_API_EXPORT_RETRY_AFTER_SECONDS | 5 | Retry-After of a refused export |
| VS_API_MAX_BODY_BYTES | 1048576 | the largest request body (413 beyond; HAProxy refuses a larger declared one first) |
| VS_API_REDIS_PREFIX | vs | prefix of every Redis key (cache, rate limits): one per deployment sharing a Redis |
| VS_API_WEB_DIR | web/dist | the built web app served at `/` |
| VS_API_MAP_TILE_URL | "" | map tiles, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png (empty: no tiles) |
| VS_API_MAP_TILE_ATTRIBUTION | "" | the tile provider's required credit line |

VS_API_TRUSTED_PROXIES takes CIDRs comma-separated or as a JSON list. Unset, nobody's X-Forwarded-For is believed
under uvicorn, and the Ray gateway believes loopback (its node's HAProxy) when HAProxy is the ingress. On a
multi-node cluster list the nodes' network (HAProxy on one node forwards to replicas on others).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sentinel.auth.forwarded import Network, parse_networks

# VS_API_TRUST_FORWARDED_FOR (a yes/no switch) trusted any peer's X-Forwarded-For; it is refused rather than ignored
# so that a deployment that set it learns at start that it must name its proxies instead.
_REPLACED = {"trust_forwarded_for": "VS_API_TRUST_FORWARDED_FOR"}


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VS_API_", extra="ignore")

    cors_origins: list[str] = Field(default_factory=list)
    rate_limit: str = "1200/minute"
    auth_rate_limit: str = "30/minute"
    auth_failure_limit: str = "30/minute"
    login_failures_per_client: str = "5/minute;10/15 minutes;20/hour"
    login_failures_per_account: str = "20/15 minutes;100/day"
    user_state_cache_seconds: int = Field(default=5, ge=0, le=60)
    trusted_proxies: Annotated[list[str] | None, NoDecode] = None
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=7, ge=1, le=90)
    score_cache_seconds: int = Field(default=300, ge=0)
    key_use_audit_seconds: int = Field(default=0, ge=0)
    model_poll_seconds: float = Field(default=10.0, gt=0)
    csv_max_rows: int = Field(default=100_000, ge=1)
    exports_per_org: int = Field(default=2, ge=1, le=1000)
    export_connections: int = Field(default=4, ge=1, le=64)
    export_max_seconds: float = Field(default=300.0, gt=0)
    export_retry_after_seconds: int = Field(default=5, ge=1)
    # The largest legitimate body, a bulk portfolio edit at its item limits, is about 320 KB.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_page_size: int = Field(default=500, ge=1)
    batch_max_bbls: int = Field(default=1000, ge=1)
    redis_prefix: str = Field(default="vs", min_length=1, max_length=64)
    web_dir: Path = Path(__file__).resolve().parents[2] / "web" / "dist"
    # No tile server by default: nothing the demo or the tests run may call an outside host.
    map_tile_url: str = Field(default="", max_length=500)
    map_tile_attribution: str = Field(default="", max_length=500)
    # Blocking work (PostgreSQL, Redis) runs in at most `blocking_threads` threads, and the interpreter hands the
    # GIL over every `gil_switch_interval_ms` (Python's default: `sys.getswitchinterval()`): with many requests in
    # flight, anyio's 40 threads and the default turns made the event loop wait behind thread convoys; a few threads
    # and shorter turns keep the cached risk read's tail latency down on a small machine (benchmarks/RESULTS.md,
    # "Serve").
    blocking_threads: int = Field(default=4, ge=1, le=64)
    gil_switch_interval_ms: float = Field(default=0.5, gt=0, le=100)

    @model_validator(mode="before")
    @classmethod
    def _refuse_replaced(cls, data: Any) -> Any:
        for field, variable in _REPLACED.items():
            if variable in os.environ or (isinstance(data, dict) and field in data):
                raise ValueError(
                    f"{variable} was replaced by VS_API_TRUSTED_PROXIES: list the proxies (CIDRs) whose "
                    "X-Forwarded-For may be believed, or leave it unset to believe none"
                )
        return data

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part for part in text.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [str(net) for net in parse_networks(value)]

    @property
    def trusted_networks(self) -> tuple[Network, ...]:
        return _networks(tuple(self.trusted_proxies or ()))


@functools.lru_cache(maxsize=16)
def _networks(values: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(parse_networks(values))
