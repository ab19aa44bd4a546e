"""The Serve application's arguments, resolved inside each replica.

`build_app(args)` binds the deployments with these (plain data); each replica then fills what is missing from
its own environment (`VS_*` through sentinel.settings, `VS_API_*` through ApiSettings). Prefer environment
variables for secrets (`VS_JWT_SECRET`, `VS_DATABASE_URL`): application args are visible in `serve status`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from deployments.api.settings import ApiSettings
from sentinel.artifact_store import ArtifactStore, open_store
from sentinel.auth.strength import check_signing_secret
from sentinel.risk.scoring import ModelLoader
from sentinel.settings import get_settings


class AppArgs(BaseModel):
    database_url: str | None = None
    redis_url: str | None = None
    jwt_secret: str | None = None
    model_loader: str = "sentinel.risk.scoring:load_active_models"
    model_dir: str | None = None  # a local model directory (before artifact stores); artifact_store wins
    artifact_store: str | None = None  # s3://bucket/prefix, file:///path or a path; default VS_ARTIFACT_STORE
    pool_size: int = Field(default=8, ge=1)
    scorer_replicas: int | None = Field(default=None, ge=1, description="fixed RiskScorer replicas; None: autoscale")
    api: dict[str, Any] = Field(default_factory=dict, description="ApiSettings overrides (VS_API_* otherwise)")


@dataclass(frozen=True)
class Resolved:
    database_url: str
    redis_url: str | None
    jwt_secret: str
    model_loader: str
    artifacts: ArtifactStore
    pool_size: int
    api: ApiSettings


def resolve(args: dict[str, Any]) -> Resolved:
    parsed = AppArgs.model_validate(args or {})
    settings = get_settings()
    database_url = parsed.database_url or (str(settings.database_url) if settings.database_url else None)
    if not database_url:
        raise RuntimeError("the Serve app needs VS_DATABASE_URL (or database_url in the application args)")
    jwt_secret = parsed.jwt_secret or settings.jwt_secret
    if not jwt_secret:
        raise RuntimeError("the Serve app needs VS_JWT_SECRET (at least 32 bytes)")
    check_signing_secret(jwt_secret)
    redis_url = parsed.redis_url or (str(settings.redis_url) if settings.redis_url else None)
    if not redis_url:
        # Without Redis every replica would limit and cache on its own: limits multiplied by the replica count,
        # revocations seen late. No embedded server starts in a replica (sentinel/embedded.py).
        raise RuntimeError("the Serve app needs VS_REDIS_URL (or redis_url in the application args)")
    return Resolved(
        database_url=database_url,
        redis_url=redis_url,
        jwt_secret=jwt_secret,
        model_loader=parsed.model_loader,
        artifacts=open_store(
            parsed.artifact_store or parsed.model_dir or settings.artifact_root, settings.artifact_cache_dir
        ),
        pool_size=parsed.pool_size,
        api=ApiSettings(**parsed.api),
    )


def import_loader(path: str) -> ModelLoader:
    """A model loader from "module:attribute" (how the Serve config names a non-default loader, e.g. a test's)."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)
