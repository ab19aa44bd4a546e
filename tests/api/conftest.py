"""The API under plain uvicorn against the session's real PostgreSQL and Redis, with two organizations.

`api` is session-scoped (one server for most tests); tests that need other settings start their own app with
`tests.api.servers.running`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import httpx
import psycopg
import pytest

from deployments.api.app import create_app
from deployments.api.deps import Deps
from deployments.api.local import local_deps
from deployments.api.settings import ApiSettings
from tests.api import seed
from tests.api.fakes import load_counting_model
from tests.api.servers import running

JWT_SECRET = secrets.token_urlsafe(48)
REDIS_PREFIX = f"vs-test-{secrets.token_hex(4)}"  # the local Redis outlives test sessions: keys are per session
TODAY = date.today()

# Buildings: P_BUSY has open violations, a deadline overdue and one upcoming, penalties; P_QUIET has none.
P_BUSY, P_QUIET, P_UNSCORED = "1000010001", "3000020002", "4000030003"
BIN_BUSY = "1000001"


@dataclass
class Api:
    url: str
    deps: Deps
    database_url: str
    orgs: dict[str, int]
    emails: dict[str, dict[str, str]]  # org name -> role -> email
    _tokens: dict[str, str] = field(default_factory=dict)

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def login(self, org: str, role: str) -> dict[str, str]:
        email = self.emails[org][role]
        if email not in self._tokens:
            with self.client() as c:
                r = c.post("/v1/auth/token", data={"username": email, "password": seed.PASSWORD})
                assert r.status_code == 200, r.text
                self._tokens[email] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self._tokens[email]}"}

    def as_(self, org: str, role: str) -> httpx.Client:
        return self.client(**self.login(org, role))


def seed_city(conn: psycopg.Connection) -> None:
    seed.add_property(conn, P_BUSY, "100 BROADWAY", bins=(BIN_BUSY,))
    seed.add_property(conn, P_QUIET, "7 QUIET LANE")
    seed.add_property(conn, P_UNSCORED, "55 UNSCORED AVENUE")
    seed.add_violation(conn, P_BUSY, klass="C", certify_by=TODAY - timedelta(days=3))
    seed.add_violation(conn, P_BUSY, klass="B", certify_by=TODAY + timedelta(days=10))
    seed.add_violation(conn, P_BUSY, source="ECB", klass="HAZARDOUS", imposed=1000, paid=250, balance=750)
    seed.add_violation(conn, P_BUSY, klass="A", status="closed")
    seed.add_complaint(conn, P_BUSY)
    conn.commit()


def make_deps(database_url: str, redis_url: str | None, **settings: object) -> Deps:
    return local_deps(
        database_url=database_url,
        redis_url=redis_url,
        jwt_secret=JWT_SECRET,
        settings=ApiSettings(**{"redis_prefix": REDIS_PREFIX, **settings}),
        model_loader=load_counting_model,
        pool_size=4,
    )


@pytest.fixture(scope="session")
def api(database_url: str, redis_url: str) -> Iterator[Api]:
    orgs, emails = {}, {}
    with psycopg.connect(database_url) as conn:
        seed_city(conn)
        for name in ("alpha", "beta"):
            orgs[name], emails[name] = seed.add_org(conn, name)
    # Every test reaches this app from 127.0.0.1, the one client address of a whole suite: the per-address login
    # limit would be a budget the tests share; it is tested on apps of its own (tests/api/test_client_addresses.py).
    deps = make_deps(database_url, redis_url, cors_origins=["https://app.example"], auth_rate_limit="600/minute")
    with running(create_app(deps)) as url:
        yield Api(url, deps, database_url, orgs, emails)
    deps.close()


@pytest.fixture
def app_with() -> Iterator[Callable[..., str]]:
    """Start another app with its own settings: `url = app_with(deps)`; stopped at the end of the test."""
    stack: list = []

    def start(deps: Deps) -> str:
        ctx = running(create_app(deps))
        stack.append((ctx, deps))
        return ctx.__enter__()

    yield start
    for ctx, deps in reversed(stack):
        ctx.__exit__(None, None, None)
        deps.close()
