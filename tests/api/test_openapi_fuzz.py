"""schemathesis against the live OpenAPI spec (issue 16): generated requests, valid and invalid, never cause a 5xx,
for every role (admin, manager, viewer), an API key with every scope, and with another organization's ids in the
path, where nothing may be served; stateful runs follow the links schemathesis infers between operations (a
created portfolio's id into its reads, updates and deletes). Documented responses match their schemas.

Bounded here (a few seeded examples per operation and role, short stateful runs: about two minutes). `make fuzz`
runs the same tests longer: FUZZ_EXAMPLES examples per operation and role, FUZZ_STEPS stateful steps.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass
class Fuzz:
    callers: dict[str, dict[str, str]]  # role -> the headers that authenticate as it, in the "fuzz" organization
    foreign: dict[str, Any]  # path parameter -> an id that belongs to the "other" organization


@pytest.fixture(scope="module")
def fuzz(api: Api) -> Fuzz:
    with psycopg.connect(api.database_url) as conn:
        _, api.emails["fuzz"] = seed.add_org(conn, "fuzz")
        other_org, api.emails["fuzzother"] = seed.add_org(conn, "fuzzother")
    callers = {role: api.login("fuzz", role) for role in ("admin", "manager", "viewer")}
    with api.as_("fuzz", "admin") as client:
        created = client.post("/v1/auth/api-keys", json={"name": "fuzz", "scopes": sorted(ALL_SCOPES)})
        assert created.status_code == 201, created.text
    callers["api_key"] = {"X-API-Key": created.json()["key"]}
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
    foreign = {"portfolio_id": portfolio, "rule_id": rule, "key_id": key, "user_id": user, "alert_id": alert}
    return Fuzz(callers, foreign)


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
def test_no_server_errors_for_any_role_and_responses_match_the_spec(api: Api, fuzz: Fuzz, role: str) -> None:
    headers = fuzz.callers[role]
    checks = [not_a_server_error, response_schema_conformance]
    _each_operation(_operations(api), lambda case: case.call_and_validate(headers=headers, checks=checks))


def test_another_organizations_ids_are_never_served(api: Api, fuzz: Fuzz) -> None:
    operations = [op for op in _operations(api) if set(fuzz.foreign) & {p.name for p in op.path_parameters}]
    assert len(operations) >= 12

    def check(case: schemathesis.Case) -> None:
        for name in fuzz.foreign.keys() & (case.path_parameters or {}).keys():
            case.path_parameters[name] = fuzz.foreign[name]
        for role, headers in fuzz.callers.items():
            response = case.call(headers=headers)
            assert response.status_code < 500, f"{role}: {case.method} {case.formatted_path} -> {response.text}"
            assert not 200 <= response.status_code < 300, (
                f"{role} reached another organization's resource: {case.method} {case.formatted_path} "
                f"{case.path_parameters} -> {response.status_code} {response.text[:300]}"
            )

    _each_operation(operations, check)


@pytest.mark.parametrize("role", ROLES)
def test_stateful_sequences_along_the_links_never_give_a_server_error(api: Api, fuzz: Fuzz, role: str) -> None:
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    machine = schema.as_state_machine()
    # Rules named "<source>___<status>_<link>__<target>" follow a link; "RANDOM__<target>" ones start a sequence.
    links = [name for name in vars(machine) if "___" in name and not name.startswith("RANDOM")]
    assert len(links) >= 10, f"stateful links are off: schemathesis inferred only {links}"
    headers = fuzz.callers[role]

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
