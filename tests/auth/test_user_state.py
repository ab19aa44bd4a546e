"""Tokens and keys checked against the user as they stand now."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sentinel.auth.errors import AuthError
from sentinel.auth.principal import Role
from sentinel.auth.scopes import ALL_SCOPES, Scope
from sentinel.auth.tokens import decode_access, issue_tokens
from sentinel.auth.user_state import UserState, key_scopes_for_creator, principal_for_token, scopes_for_role

SECRET = "s" * 40


def claims(generation: int = 3, role: str = "admin"):
    pair = issue_tokens(user_id=7, org_id=1, role=role, secret=SECRET, now=datetime.now(UTC), generation=generation)
    return decode_access(pair.access_token, SECRET)


def state(**changes) -> UserState:
    base = {"user_id": 7, "org_id": 1, "role": Role.ADMIN, "active": True, "generation": 3}
    return UserState(**{**base, **changes})


def test_the_token_carries_the_generation_and_the_current_role_decides() -> None:
    principal = principal_for_token(claims(), state(role=Role.VIEWER))
    assert principal.role is Role.VIEWER


@pytest.mark.parametrize(
    ("current", "reason"),
    [
        (None, "no longer active"),
        (state(active=False), "no longer active"),
        (state(org_id=2), "organization"),
        (state(generation=4), "expired"),
    ],
)
def test_a_token_of_a_gone_inactive_moved_or_older_session_is_refused(current, reason) -> None:
    with pytest.raises(AuthError, match=reason):
        principal_for_token(claims(), current)


def test_state_round_trips_through_the_cache_encoding() -> None:
    assert UserState.from_bytes(state().to_bytes()) == state()


def test_role_scopes_follow_the_rbac_table() -> None:
    assert scopes_for_role(Role.ADMIN) == ALL_SCOPES
    assert scopes_for_role(Role.VIEWER) == {Scope.PROPERTIES_READ, Scope.RISK_READ, Scope.PORTFOLIOS_READ,
                                            Scope.ALERTS_READ}  # fmt: skip
    assert Scope.PORTFOLIOS_WRITE in scopes_for_role(Role.MANAGER) and Scope.ADMIN not in scopes_for_role(Role.MANAGER)
    assert scopes_for_role(Role.API) == frozenset()


def test_a_keys_scopes_are_capped_by_its_creators_role() -> None:
    admin_key = frozenset({Scope.ADMIN})
    assert key_scopes_for_creator(admin_key, key_org_id=1, creator=state()) == admin_key
    assert key_scopes_for_creator(admin_key, key_org_id=1, creator=state(role=Role.MANAGER)) == scopes_for_role(
        Role.MANAGER
    ) - {Scope.ADMIN}
    reader = frozenset({Scope.RISK_READ, Scope.PORTFOLIOS_WRITE})
    assert key_scopes_for_creator(reader, key_org_id=1, creator=state(role=Role.VIEWER)) == {Scope.RISK_READ}


@pytest.mark.parametrize(
    ("creator", "reason"),
    [(None, "no longer exists"), (state(active=False), "deactivated"), (state(org_id=2), "organization")],
)
def test_a_key_dies_with_its_creators_account(creator, reason) -> None:
    with pytest.raises(AuthError, match=reason):
        key_scopes_for_creator(frozenset({Scope.RISK_READ}), key_org_id=1, creator=creator)
