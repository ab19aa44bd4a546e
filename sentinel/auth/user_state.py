"""A user's current standing, which every authenticated request is checked against.

Tokens are signed snapshots: without a check, a deactivated admin keeps its access token until it expires, and a
demoted one keeps its old role. So each request compares the token with the user's current state: active, role,
organization, and `session_generation`, a counter that ends every session at once when bumped (deactivation,
reactivation, a role change, a password change or reset, logout everywhere, a replayed refresh token). The
gateway reads the state through a cache of a few seconds that is invalidated on every change
(deployments/api/user_states.py); this module is the state, its SQL and the checks.

API keys are checked against their creator's state too: a key dies with its creator's account, and can do no
more than the creator's current role allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import psycopg

from sentinel.auth.errors import AuthError
from sentinel.auth.principal import Principal, Role
from sentinel.auth.rbac import PERMISSIONS
from sentinel.auth.scopes import ALL_SCOPES, Scope
from sentinel.auth.tokens import TokenClaims

_STATE = "SELECT id, org_id, role, is_active, session_generation FROM users WHERE id = %s"


@dataclass(frozen=True, slots=True)
class UserState:
    user_id: int
    org_id: int
    role: Role
    active: bool
    generation: int

    def to_bytes(self) -> bytes:
        return orjson.dumps([self.user_id, self.org_id, self.role.value, self.active, self.generation])

    @classmethod
    def from_bytes(cls, raw: bytes) -> UserState:
        user_id, org_id, role, active, generation = orjson.loads(raw)
        return cls(int(user_id), int(org_id), Role(role), bool(active), int(generation))


def load_user_state(conn: psycopg.Connection[Any], user_id: int) -> UserState | None:
    row = conn.execute(_STATE, (user_id,)).fetchone()
    if row is None:
        return None
    return UserState(int(row[0]), int(row[1]), Role(row[2]), bool(row[3]), int(row[4]))


def bump_generation(conn: psycopg.Connection[Any], user_id: int) -> None:
    """Ends every session of the user (access and refresh tokens) in the caller's transaction; the caller drops
    the cached state after the commit."""
    conn.execute("UPDATE users SET session_generation = session_generation + 1 WHERE id = %s", (user_id,))


def principal_for_token(claims: TokenClaims, state: UserState | None) -> Principal:
    """The caller behind a valid token as the user stands now: the current role, never the one in the token.

    `AuthError` when the user is gone, inactive, in another organization, or the token is of an older generation
    (its reason says "expired" so the client is told its credentials expired, not that they were forged).
    """
    if state is None or not state.active:
        raise AuthError("user no longer active")
    if state.org_id != claims.org_id:
        raise AuthError("user no longer in the token's organization")
    if claims.generation != state.generation:
        raise AuthError("session expired: ended by a change to the account")
    return Principal.for_user(user_id=state.user_id, org_id=state.org_id, role=state.role)


def scopes_for_role(role: Role) -> frozenset[Scope]:
    """The scopes a key can use while its creator has `role`: those of the permissions the role has (derived from
    the one RBAC table, so the two never disagree). `admin` brings every scope."""
    granted = frozenset(rule.scope for rule in PERMISSIONS.values() if role in rule.roles)
    return ALL_SCOPES if Scope.ADMIN in granted else granted


def key_scopes_for_creator(
    key_scopes: frozenset[Scope], *, key_org_id: int, creator: UserState | None
) -> frozenset[Scope]:
    """A key's effective scopes: what it was issued with, capped by what its creator's role allows today.

    `AuthError` when the creator is deleted, deactivated or moved to another organization: a key outlives neither
    its creator's account nor its creator's rights."""
    if creator is None:
        raise AuthError("api key creator no longer exists")
    if not creator.active:
        raise AuthError("api key creator deactivated")
    if creator.org_id != key_org_id:
        raise AuthError("api key creator no longer in the key's organization")
    issued = ALL_SCOPES if Scope.ADMIN in key_scopes else key_scopes
    allowed = scopes_for_role(creator.role)
    if Scope.ADMIN in key_scopes and Scope.ADMIN in allowed:
        return key_scopes
    return frozenset(issued & allowed - {Scope.ADMIN})
