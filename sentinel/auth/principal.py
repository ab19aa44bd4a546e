"""Who is calling: the one value the gateway hands to `authorize` after authentication."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from sentinel.auth.scopes import Scope


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    VIEWER = "viewer"
    API = "api"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    `via="jwt"`: a logged-in user; the role decides. `via="api_key"`: an API key; its scopes decide and
    the role is always `api` (see `for_api_key`). `user_id` is None for a key whose creator was deleted
    (ON DELETE SET NULL).
    """

    user_id: int | None
    org_id: int
    role: Role
    via: Literal["jwt", "api_key"]
    scopes: frozenset[Scope] = field(default_factory=frozenset)
    key_id: int | None = None

    @classmethod
    def for_user(cls, *, user_id: int, org_id: int, role: Role | str) -> "Principal":
        return cls(user_id=user_id, org_id=org_id, role=Role(role), via="jwt")

    @classmethod
    def for_api_key(
        cls, *, key_id: int, org_id: int, scopes: frozenset[Scope], user_id: int | None = None
    ) -> "Principal":
        return cls(user_id=user_id, org_id=org_id, role=Role.API, via="api_key", scopes=scopes, key_id=key_id)

    @property
    def actor(self) -> str:
        """How this caller is named in the audit log."""
        return f"api_key:{self.key_id}" if self.via == "api_key" else f"user:{self.user_id}"
