"""schemathesis against the live OpenAPI spec (issue 16): generated requests, valid and invalid, never cause a 5xx,
for every role (admin, manager, viewer) and an API key with every scope, each in an organization of its own, and
with another organization's ids in the path, where nothing may be served; stateful runs follow the links
schemathesis infers between operations (a created portfolio's id into its reads, updates and deletes). Documented
responses match their schemas.

Bounded here (a few seeded examples per operation and role, short stateful runs: about two minutes). `make fuzz`
runs the same tests longer: FUZZ_EXAMPLES examples per operation and role, FUZZ_SCENARIOS stateful scenarios of
FUZZ_STEPS steps.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from sentinel.auth.scopes import ALL_SCOPES
from tests.api import seed
from tests.api.conftest import P_BUSY, Api

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
STEPS = int(os.environ.get("FUZZ_STEPS", "8"))
SCENARIOS = int(os.environ.get("FUZZ_SCENARIOS", "10"))
ROLES = ("admin", "manager", "viewer", "api_key")
RULE = {"name": "theirs", "condition": {"type": "new_violation", "classes": ["C"]}, "scope": {"type": "organization"}}


def _caller(api: Api, org: str, role: str) -> dict[str, str]:
    """Headers that authenticate as `role` in `org`, a new organization of its own: one role's generated writes
    (an admin deactivating users, a key revoking keys) must not disarm another role's run."""
    with psycopg.connect(api.database_url) as conn:
        _, api.emails[org] = seed.add_org(conn, org)
    if role != "api_key":
        return api.login(org, role)
    with api.as_(org, "admin") as client:
        created = client.post("/v1/auth/api-keys", json={"name": "fuzz", "scopes": sorted(ALL_SCOPES)})
    assert created.status_code == 201, created.text
    return {"X-API-Key": created.json()["key"]}


@pytest.fixture(scope="module")
def foreign(api: Api) -> dict[str, Any]:
    """Path parameter -> an id of that kind that belongs to another organization."""
    with psycopg.connect(api.database_url) as conn:
        other_org, api.emails["fuzzother"] = seed.add_org(conn, "fuzzother")
    with api.as_("fuzzother", "admin") as client:
        portfolio = client.post("/v1/portfolios", json={"name": "theirs"}).json()["id"]
        rule = client.post("/v1/alert-rules", json=RULE).json()["id"]
        key = client.post("/v1/auth/api-keys", json={"name": "theirs", "scopes": ["risk:read"]}).json()["id"]
        user = client.get("/v1/admin/users").json()[0]["id"]
    with psycopg.connect(api.database_url) as conn:
        (alert,) = conn.execute(
            "INSERT INTO alerts (rule_id, org_id, bbl, trigger_key, title) VALUES (%s, %s, %s, 'fuzz', 'theirs') "
            "RETURNING id",
            (rule, other_org, P_BUSY),
        ).fetchone()  # type: ignore[misc]
    return {"portfolio_id": portfolio, "rule_id": rule, "key_id": key, "user_id": user, "alert_id": alert}


def _operations(api: Api) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 35
    return operations


def _each_operation(operations: list[Any], check: Callable[[schemathesis.Case], None]) -> None:
    for operation in operations:

        @given(case=operation.as_strategy() | operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            check(case)

        run()


@pytest.mark.parametrize("role", ROLES)
def test_no_server_errors_for_any_role_and_responses_match_the_spec(api: Api, role: str) -> None:
    headers = _caller(api, f"fuzz-{role}", role)
    checks = [not_a_server_error, response_schema_conformance]
    _each_operation(_operations(api), lambda case: case.call_and_validate(headers=headers, checks=checks))


def test_another_organizations_ids_are_never_served(api: Api, foreign: dict[str, Any]) -> None:
    callers = {role: _caller(api, f"fuzz-probe-{role}", role) for role in ROLES}
    operations = [op for op in _operations(api) if set(foreign) & {p.name for p in op.path_parameters}]
    assert len(operations) >= 12

    def check(case: schemathesis.Case) -> None:
        for name in foreign.keys() & (case.path_parameters or {}).keys():
            case.path_parameters[name] = foreign[name]
        for role, headers in callers.items():
            response = case.call(headers=headers)
            assert response.status_code < 500, f"{role}: {case.method} {case.formatted_path} -> {response.text}"
            assert not 200 <= response.status_code < 300, (
                f"{role} reached another organization's resource: {case.method} {case.formatted_path} "
                f"{case.path_parameters} -> {response.status_code} {response.text[:300]}"
            )

    _each_operation(operations, check)


@pytest.mark.parametrize("role", ROLES)
def test_stateful_sequences_along_the_links_never_give_a_server_error(api: Api, role: str) -> None:
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    machine = schema.as_state_machine()
    # Rules named "<source>___<status>_<link>__<target>" follow a link; "RANDOM__<target>" ones start a sequence.
    links = [name for name in vars(machine) if "___" in name and not name.startswith("RANDOM")]
    assert len(links) >= 10, f"stateful links are off: schemathesis inferred only {links}"
    headers = _caller(api, f"fuzz-seq-{role}", role)

    class Sequences(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            case.validate_response(response, checks=[not_a_server_error])

    Sequences.run(
        settings=settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
