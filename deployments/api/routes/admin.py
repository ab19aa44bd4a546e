"""/v1/admin: the caller's organization and its users (admins only; never another organization's)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StringConstraints, field_validator

from deployments.api.errors import ApiError, not_found
from deployments.api.security import audit, deps_of, refuse_weak_password, require
from deployments.api.strict_query import refuse_unknown_query_params
from sentinel.auth import organizations, users
from sentinel.auth.passwords import hash_password
from sentinel.auth.principal import Principal
from sentinel.auth.rbac import Permission

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(refuse_unknown_query_params)])
UsersReader = Annotated[Principal, Depends(require(Permission.USERS_READ))]
UsersWriter = Annotated[Principal, Depends(require(Permission.USERS_WRITE))]
RoleName = Literal["admin", "manager", "viewer", "api"]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)]


class Organization(BaseModel):
    id: int
    name: str
    timezone: str
    created_at: datetime


class OrganizationUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class User(BaseModel):
    id: int
    email: str
    role: str
    is_active: bool
    created_at: datetime


class UserCreate(BaseModel):
    email: Email
    password: str = Field(min_length=12, max_length=1024)
    role: RoleName


class UserUpdate(BaseModel):
    role: RoleName | None = None
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=12, max_length=1024)


@router.get("/organization", response_model=Organization, summary="The caller's organization")
def get_organization(request: Request, principal: UsersReader) -> dict[str, Any]:
    with deps_of(request).pool.connection() as conn:
        row = organizations.get(conn, principal.org_id)
    if row is None:
        raise not_found("organization")
    return row


@router.patch("/organization", response_model=Organization, summary="Rename or change the time zone")
def update_organization(request: Request, body: OrganizationUpdate, principal: UsersWriter) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    with deps_of(request).pool.connection() as conn, conn.transaction():
        try:
            row = organizations.update(conn, principal.org_id, name=body.name, timezone=body.timezone)
        except psycopg.errors.UniqueViolation:
            raise ApiError(409, "conflict", "an organization with that name exists") from None
        audit(conn, principal, "organization.update", f"organization:{principal.org_id}", changes)
    assert row is not None
    return row


@router.get("/users", response_model=list[User], summary="The organization's users")
def list_users(request: Request, principal: UsersReader) -> list[dict[str, Any]]:
    with deps_of(request).pool.connection() as conn:
        return users.list_users(conn, principal.org_id)


@router.post("/users", response_model=User, status_code=201, summary="Add a user to the organization")
def create_user(request: Request, body: UserCreate, principal: UsersWriter) -> dict[str, Any]:
    refuse_weak_password(body.password, body.email)
    password_hash = hash_password(body.password)
    with deps_of(request).pool.connection() as conn, conn.transaction():
        row = users.create_user(
            conn, org_id=principal.org_id, email=body.email, password_hash=password_hash, role=body.role
        )
        if row is None:
            # Unique within the organization only (migration 0017): the answer says nothing about other tenants.
            raise ApiError(409, "conflict", "this organization already has a user with that email")
        audit(conn, principal, "user.create", f"user:{row['id']}", {"email": body.email, "role": body.role})
    return row


@router.patch("/users/{user_id}", response_model=User, summary="Change a user's role, password or active flag")
def update_user(request: Request, user_id: int, body: UserUpdate, principal: UsersWriter) -> dict[str, Any]:
    """A change of role, active flag or password ends every session of the user at once (on every replica within
    the user-state cache's few seconds). Nobody changes their own role or active flag: another admin must."""
    if user_id == principal.user_id and (body.role is not None or body.is_active is not None):
        raise ApiError(403, "forbidden", "you cannot change your own role or active flag; ask another admin")
    deps = deps_of(request)
    password_hash = None
    if body.password:
        with deps.pool.connection() as conn:
            email = users.email_of(conn, user_id, principal.org_id)
        if email is None:
            raise not_found(f"user {user_id}")
        refuse_weak_password(body.password, email)
        password_hash = hash_password(body.password)
    with deps.pool.connection() as conn, conn.transaction():
        row, sessions_ended = users.update_user(
            conn,
            org_id=principal.org_id,
            user_id=user_id,
            role=body.role,
            is_active=body.is_active,
            password_hash=password_hash,
        )
        if row is None:
            raise not_found(f"user {user_id}")
        changes = body.model_dump(exclude_none=True, exclude={"password"})
        if body.password:
            changes["password_changed"] = True
        if sessions_ended:
            changes["sessions_ended"] = True
        audit(conn, principal, "user.update", f"user:{user_id}", changes)
    deps.user_states.invalidate(user_id)
    return row
