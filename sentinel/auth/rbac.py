"""Role-based access control: one table says who may do what, `authorize` applies it.

Rules (from the access-control issue):
- admin: everything in its own organization;
- manager: reads everything of its organization, writes portfolios and alert rules (and acknowledges alerts);
- viewer: reads;
- api (API keys): exactly the scopes the key carries, whatever the role of the user who created it.
Organization data (portfolios, rules, alerts, keys, users, audit) is visible only inside its organization.
Public city data (properties, violations, complaints, scores) is readable by every authenticated user; an API
key still needs the matching read scope for it, since a key is deliberately limited to what it was issued for.
"""

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from sentinel.auth.errors import Forbidden
from sentinel.auth.principal import Principal, Role
from sentinel.auth.scopes import Scope, has_scope


class Permission(StrEnum):
    CITY_READ = "city:read"  # properties, buildings, violations, complaints
    RISK_READ = "risk:read"
    PORTFOLIOS_READ = "portfolios:read"
    PORTFOLIOS_WRITE = "portfolios:write"
    ALERT_RULES_READ = "alert_rules:read"
    ALERT_RULES_WRITE = "alert_rules:write"
    ALERTS_READ = "alerts:read"
    ALERTS_ACKNOWLEDGE = "alerts:acknowledge"
    API_KEYS_READ = "api_keys:read"
    API_KEYS_WRITE = "api_keys:write"
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    AUDIT_READ = "audit:read"
    WEBHOOK_SECRETS = "webhook_secrets:manage"


class Rule(NamedTuple):
    roles: frozenset[Role]  # the user roles (JWT callers) granted this permission
    scope: Scope  # the scope an API key needs for it (`admin` implies all)
    org_owned: bool  # True: the resource belongs to one organization and only that one may touch it


_A, _M, _V = Role.ADMIN, Role.MANAGER, Role.VIEWER
_READERS = frozenset({_A, _M, _V})
_WRITERS = frozenset({_A, _M})
_ADMINS = frozenset({_A})

PERMISSIONS: Mapping[Permission, Rule] = MappingProxyType(
    {
        Permission.CITY_READ: Rule(_READERS, Scope.PROPERTIES_READ, org_owned=False),
        Permission.RISK_READ: Rule(_READERS, Scope.RISK_READ, org_owned=False),
        Permission.PORTFOLIOS_READ: Rule(_READERS, Scope.PORTFOLIOS_READ, org_owned=True),
        Permission.PORTFOLIOS_WRITE: Rule(_WRITERS, Scope.PORTFOLIOS_WRITE, org_owned=True),
        Permission.ALERT_RULES_READ: Rule(_READERS, Scope.ALERTS_READ, org_owned=True),
        Permission.ALERT_RULES_WRITE: Rule(_WRITERS, Scope.ALERTS_WRITE, org_owned=True),
        Permission.ALERTS_READ: Rule(_READERS, Scope.ALERTS_READ, org_owned=True),
        Permission.ALERTS_ACKNOWLEDGE: Rule(_WRITERS, Scope.ALERTS_WRITE, org_owned=True),
        Permission.API_KEYS_READ: Rule(_ADMINS, Scope.ADMIN, org_owned=True),
        Permission.API_KEYS_WRITE: Rule(_ADMINS, Scope.ADMIN, org_owned=True),
        Permission.USERS_READ: Rule(_ADMINS, Scope.ADMIN, org_owned=True),
        Permission.USERS_WRITE: Rule(_ADMINS, Scope.ADMIN, org_owned=True),
        Permission.AUDIT_READ: Rule(_ADMINS, Scope.ADMIN, org_owned=True),
        Permission.WEBHOOK_SECRETS: Rule(_ADMINS, Scope.ADMIN, org_owned=True),
    }
)


def authorize(principal: Principal, permission: Permission, resource_org_id: int | None = None) -> None:
    """Return if `principal` may use `permission` on a resource of `resource_org_id`, else raise Forbidden.

    `resource_org_id=None` means "in the caller's own organization" (listing or creating): the caller of
    `authorize` must then scope its query or insert to `principal.org_id`. For an existing organization-owned
    resource always pass its org id, so a guessed id from another organization is refused here.
    """
    rule = PERMISSIONS[permission]
    if principal.via == "api_key" or principal.role is Role.API:
        if not has_scope(principal.scopes, rule.scope):
            raise Forbidden(f"api key lacks scope {rule.scope.value} for {permission.value}")
    elif principal.role not in rule.roles:
        raise Forbidden(f"role {principal.role.value} may not {permission.value}")
    if rule.org_owned and resource_org_id is not None and resource_org_id != principal.org_id:
        raise Forbidden(f"{permission.value}: resource belongs to another organization")
