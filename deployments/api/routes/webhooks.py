"""/v1/admin/webhook-secret: the organization's own webhook signing secret (admins only).

The secret is shown once, in the answer to the rotation that created it; afterwards only when it was rotated.
Rotating keeps the previous secret signing beside the new one for `grace_hours` (0: stop at once, for a leak).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from deployments.api.errors import ApiError
from deployments.api.security import audit, deps_of, require
from deployments.api.strict_query import refuse_unknown_query_params
from sentinel.auth.principal import Principal
from sentinel.auth.rbac import Permission
from sentinel.channels import org_secrets

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(refuse_unknown_query_params)])
SecretsAdmin = Annotated[Principal, Depends(require(Permission.WEBHOOK_SECRETS))]


class SecretState(BaseModel):
    configured: bool = Field(description="false: webhooks are signed with the deployment's global secret")
    rotated_at: datetime | None = None
    previous_valid_until: datetime | None = Field(None, description="the previous secret still signs until then")


class Rotation(BaseModel):
    grace_hours: int = Field(default=24, ge=0, le=7 * 24)


class NewSecret(SecretState):
    secret: str = Field(description="shown this once: store it where your receiver verifies signatures")


@router.get("/webhook-secret", response_model=SecretState, summary="Whether the organization has its own secret")
def webhook_secret(request: Request, principal: SecretsAdmin) -> SecretState:
    with deps_of(request).pool.connection() as conn:
        info = org_secrets.describe(conn, principal.org_id)
    if info is None:
        return SecretState(configured=False)
    return SecretState(configured=True, rotated_at=info.rotated_at, previous_valid_until=info.previous_valid_until)


@router.post("/webhook-secret/rotate", response_model=NewSecret, status_code=201, summary="Create or rotate the secret")
def rotate_webhook_secret(request: Request, principal: SecretsAdmin, body: Rotation | None = None) -> NewSecret:
    deps = deps_of(request)
    if deps.secrets_key is None:
        # Not a 5xx: the server works; this deployment has not enabled the feature (the global secret signs).
        raise ApiError(409, "secrets_key_missing", "per-organization webhook secrets need VS_SECRETS_KEY on the server")
    grace = timedelta(hours=(body or Rotation()).grace_hours)
    with deps.pool.connection() as conn, conn.transaction():
        secret, info = org_secrets.rotate(
            conn, principal.org_id, deps.secrets_key, by_user=principal.user_id, grace=grace
        )
        audit(
            conn,
            principal,
            "webhook_secret.rotate",
            f"organization:{principal.org_id}",
            {"grace_hours": grace.total_seconds() / 3600},
        )
    return NewSecret(
        configured=True, rotated_at=info.rotated_at, previous_valid_until=info.previous_valid_until, secret=secret
    )
