"""The access matrix, written out from the issue's rules rather than derived from the table under test."""

import pytest

from sentinel.auth.errors import Forbidden
from sentinel.auth.principal import Principal, Role
from sentinel.auth.rbac import PERMISSIONS, Permission, authorize
from sentinel.auth.scopes import ALL_SCOPES, Scope, parse_scopes, require_scope

P = Permission
OWN_ORG, OTHER_ORG = 10, 20

PUBLIC = {P.CITY_READ, P.RISK_READ}
ORG_READS = {P.PORTFOLIOS_READ, P.ALERT_RULES_READ, P.ALERTS_READ}
ORG_WRITES = {P.PORTFOLIOS_WRITE, P.ALERT_RULES_WRITE, P.ALERTS_ACKNOWLEDGE}
ADMIN_ONLY = {P.API_KEYS_READ, P.API_KEYS_WRITE, P.USERS_READ, P.USERS_WRITE, P.AUDIT_READ, P.WEBHOOK_SECRETS}

EXPECTED_BY_ROLE: dict[Role, set[Permission]] = {
    Role.ADMIN: set(Permission),
    Role.MANAGER: PUBLIC | ORG_READS | ORG_WRITES,
    Role.VIEWER: PUBLIC | ORG_READS,
    Role.API: set(),  # a user with the api role has no scopes when logged in by JWT
}

# The one scope that lets an API key use each permission (`admin` implies every scope).
EXPECTED_SCOPE: dict[Permission, Scope] = {
    P.CITY_READ: Scope.PROPERTIES_READ,
    P.RISK_READ: Scope.RISK_READ,
    P.PORTFOLIOS_READ: Scope.PORTFOLIOS_READ,
    P.PORTFOLIOS_WRITE: Scope.PORTFOLIOS_WRITE,
    P.ALERT_RULES_READ: Scope.ALERTS_READ,
    P.ALERT_RULES_WRITE: Scope.ALERTS_WRITE,
    P.ALERTS_READ: Scope.ALERTS_READ,
    P.ALERTS_ACKNOWLEDGE: Scope.ALERTS_WRITE,
    **dict.fromkeys(ADMIN_ONLY, Scope.ADMIN),
}


def user(role: Role, org_id: int = OWN_ORG) -> Principal:
    return Principal.for_user(user_id=1, org_id=org_id, role=role)


def key(*scopes: Scope, org_id: int = OWN_ORG) -> Principal:
    return Principal.for_api_key(key_id=5, org_id=org_id, scopes=frozenset(scopes))


def allowed(principal: Principal, permission: Permission, resource_org_id: int | None = None) -> bool:
    try:
        authorize(principal, permission, resource_org_id)
    except Forbidden:
        return False
    return True


def test_table_covers_every_permission_and_the_test_covers_the_table() -> None:
    assert set(PERMISSIONS) == set(Permission) == set(EXPECTED_SCOPE)
    assert set(Permission) == PUBLIC | ORG_READS | ORG_WRITES | ADMIN_ONLY


@pytest.mark.parametrize("permission", list(Permission))
@pytest.mark.parametrize("role", list(Role))
def test_role_matrix_in_own_organization(role: Role, permission: Permission) -> None:
    expected = permission in EXPECTED_BY_ROLE[role]
    assert allowed(user(role), permission) is expected
    assert allowed(user(role), permission, resource_org_id=OWN_ORG) is expected


@pytest.mark.parametrize("permission", list(Permission))
@pytest.mark.parametrize("role", list(Role))
def test_role_matrix_across_organizations(role: Role, permission: Permission) -> None:
    # Public city data has no owner; everything else of another organization is refused, even to its admin.
    expected = permission in EXPECTED_BY_ROLE[role] and permission in PUBLIC
    assert allowed(user(role), permission, resource_org_id=OTHER_ORG) is expected


@pytest.mark.parametrize("permission", list(Permission))
@pytest.mark.parametrize("scope", list(Scope))
def test_api_key_matrix_by_scope(scope: Scope, permission: Permission) -> None:
    expected = scope in (EXPECTED_SCOPE[permission], Scope.ADMIN)
    assert allowed(key(scope), permission) is expected
    assert allowed(key(scope), permission, resource_org_id=OTHER_ORG) is (expected and permission in PUBLIC)


@pytest.mark.parametrize("permission", list(Permission))
def test_api_key_without_scopes_can_do_nothing(permission: Permission) -> None:
    assert not allowed(key(), permission)


def test_api_key_scopes_do_not_inherit_the_creators_role() -> None:
    read_only = Principal.for_api_key(key_id=9, org_id=OWN_ORG, scopes=frozenset({Scope.PORTFOLIOS_READ}), user_id=1)
    assert read_only.role is Role.API
    authorize(read_only, P.PORTFOLIOS_READ, OWN_ORG)
    with pytest.raises(Forbidden, match="lacks scope portfolios:write"):
        authorize(read_only, P.PORTFOLIOS_WRITE, OWN_ORG)


def test_forbidden_says_why() -> None:
    with pytest.raises(Forbidden, match="role viewer may not portfolios:write"):
        authorize(user(Role.VIEWER), P.PORTFOLIOS_WRITE)
    with pytest.raises(Forbidden, match="another organization"):
        authorize(user(Role.ADMIN), P.USERS_WRITE, resource_org_id=OTHER_ORG)


def test_scope_strings_parse_and_unknown_ones_are_rejected() -> None:
    assert parse_scopes(["risk:read", "admin"]) == {Scope.RISK_READ, Scope.ADMIN}
    assert parse_scopes(sorted(ALL_SCOPES)) == ALL_SCOPES
    with pytest.raises(ValueError, match="unknown scope"):
        parse_scopes(["risk:write"])


def test_require_scope() -> None:
    require_scope({Scope.RISK_READ}, Scope.RISK_READ)
    require_scope({Scope.ADMIN}, Scope.PORTFOLIOS_WRITE)
    with pytest.raises(Forbidden, match="missing scope risk:read"):
        require_scope({Scope.PROPERTIES_READ}, Scope.RISK_READ)
