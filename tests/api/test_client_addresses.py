"""Client addresses come from the connection (or a configured proxy), never from what a client writes; limits key
on them; login is throttled per account, not for everyone. Clients here connect from their own loopback addresses
(127.0.0.2, 127.0.0.3, ...) so that each is a different client, as on a network.

The uvicorn engine is tested first; the same cases then go through the Ray engine, behind Ray's HAProxy."""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
from pydantic import ValidationError

from cluster import haproxy_rules
from deployments.api.settings import ApiSettings
from tests.api import seed
from tests.api.conftest import JWT_SECRET, REDIS_PREFIX, Api, make_deps
from tests.api.servers import running_on_serve

_hosts = itertools.count(2)


def new_address() -> str:
    """A loopback address no other test in this session uses."""
    n = next(_hosts)
    return f"127.0.{n // 250}.{n % 250 + 2}"


def client(url: str, address: str, **headers: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, transport=transport, headers=headers, timeout=30)


def audit_since(api: Api, mark: int, action: str) -> list[dict]:
    with psycopg.connect(api.database_url) as conn:
        rows = conn.execute(
            "SELECT details FROM audit_log WHERE id > %s AND action = %s ORDER BY id", (mark, action)
        ).fetchall()
    return [r[0] for r in rows]


def last_audit_id(api: Api) -> int:
    with psycopg.connect(api.database_url) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0]


@pytest.fixture
def accounts(api: Api) -> dict[str, str]:
    name = f"addr-{secrets.token_hex(4)}"
    with psycopg.connect(api.database_url) as conn:
        _, emails = seed.add_org(conn, name)
    return emails


def own_app(api: Api, redis_url: str, app_with: Callable[..., str], **settings: object) -> str:
    prefix = f"{REDIS_PREFIX}-addr-{secrets.token_hex(3)}"
    return app_with(make_deps(api.database_url, redis_url, redis_prefix=prefix, **settings))


def wrong_login(c: httpx.Client, email: str, forged: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forged} if forged else {}
    return c.post("/v1/auth/token", data={"username": email, "password": "not the password"}, headers=headers)


def good_login(c: httpx.Client, email: str) -> httpx.Response:
    return c.post("/v1/auth/token", data={"username": email, "password": seed.PASSWORD})


# --- the uvicorn engine ---------------------------------------------------------------------------------------


def test_a_forwarded_for_header_from_an_unconfigured_peer_is_ignored(
    api: Api, redis_url: str, app_with: Callable[..., str], accounts: dict[str, str]
) -> None:
    """From 127.0.0.1 itself, which uvicorn believed by default: the issue's forged audit entries."""
    url = own_app(api, redis_url, app_with)
    mark = last_audit_id(api)
    with client(url, "127.0.0.1") as c:
        assert wrong_login(c, accounts["viewer"], forged="203.0.113.50").status_code == 401
    assert [d["ip"] for d in audit_since(api, mark, "auth.login_failed")] == ["127.0.0.1"]


def test_forwarded_for_is_believed_only_from_a_configured_proxy(
    api: Api, redis_url: str, app_with: Callable[..., str], accounts: dict[str, str]
) -> None:
    proxy = new_address()
    url = own_app(api, redis_url, app_with, trusted_proxies=f"{proxy}/32")
    stranger, mark = new_address(), last_audit_id(api)
    with client(url, proxy) as via_proxy, client(url, stranger) as direct:
        assert wrong_login(via_proxy, accounts["viewer"], forged="198.51.100.7").status_code == 401
        # what the client wrote sits left of what the proxy appended: only the proxy's entry counts
        assert wrong_login(via_proxy, accounts["viewer"], forged="6.6.6.6, 198.51.100.8").status_code == 401
        assert wrong_login(direct, accounts["viewer"], forged="198.51.100.9").status_code == 401
    ips = [d["ip"] for d in audit_since(api, mark, "auth.login_failed")]
    assert ips == ["198.51.100.7", "198.51.100.8", stranger]


def test_the_replaced_trust_forwarded_for_switch_stops_the_start_with_a_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VS_API_TRUST_FORWARDED_FOR", "false")
    with pytest.raises(ValidationError, match="replaced by VS_API_TRUSTED_PROXIES"):
        ApiSettings()
    monkeypatch.delenv("VS_API_TRUST_FORWARDED_FOR")
    monkeypatch.setenv("VS_API_TRUSTED_PROXIES", "10.0.0.0/8,not-a-network")
    with pytest.raises(ValidationError, match="not-a-network"):
        ApiSettings()


def test_thirty_wrong_logins_lock_out_neither_other_users_nor_the_owner_elsewhere(
    api: Api, redis_url: str, app_with: Callable[..., str], accounts: dict[str, str]
) -> None:
    url = own_app(api, redis_url, app_with)
    attacker, mark = new_address(), last_audit_id(api)
    with client(url, attacker) as c:
        answers = [wrong_login(c, accounts["viewer"], forged=f"10.9.8.{n}") for n in range(30)]
    codes = [r.status_code for r in answers]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes
    refused = answers[-1]
    assert int(refused.headers["retry-after"]) >= 1
    assert "wrong passwords for this account" in refused.json()["error"]["message"]
    with client(url, new_address()) as colleague:
        assert good_login(colleague, accounts["manager"]).status_code == 200
    with client(url, new_address()) as owner:
        assert good_login(owner, accounts["viewer"]).status_code == 200
    throttled = audit_since(api, mark, "auth.login_throttled")
    assert len(throttled) == 25 and {d["ip"] for d in throttled} == {attacker}


def test_login_backoff_waits_longer_at_each_tier_and_a_success_clears_it(
    api: Api, redis_url: str, app_with: Callable[..., str], accounts: dict[str, str]
) -> None:
    url = own_app(api, redis_url, app_with, login_failures_per_client="2 per 2 seconds;3 per minute")
    with client(url, new_address()) as c:
        assert [wrong_login(c, accounts["manager"]).status_code for _ in range(3)] == [401, 401, 429]
        first_wait = int(wrong_login(c, accounts["manager"]).headers["retry-after"])
        assert 1 <= first_wait <= 2
        deadline = time.monotonic() + 10
        while (r := wrong_login(c, accounts["manager"])).status_code == 429:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert r.status_code == 401  # the third failure fills the minute's tier
        longer = wrong_login(c, accounts["manager"])
        assert longer.status_code == 429 and int(longer.headers["retry-after"]) > 2
    with client(url, new_address()) as c:
        assert good_login(c, accounts["manager"]).status_code == 200


def test_guessing_one_account_from_many_addresses_is_stopped_per_account(
    api: Api, redis_url: str, app_with: Callable[..., str], accounts: dict[str, str]
) -> None:
    url = own_app(api, redis_url, app_with, login_failures_per_account="6 per minute")
    codes = []
    for _ in range(3):
        with client(url, new_address()) as c:
            codes += [wrong_login(c, accounts["admin"]).status_code for _ in range(2)]
    assert codes == [401] * 6
    with client(url, new_address()) as c:
        assert wrong_login(c, accounts["admin"]).status_code == 429
        assert good_login(c, accounts["viewer"]).status_code == 200  # other accounts are not touched


def test_failed_api_keys_are_limited_per_address_whatever_forwarded_for_says(
    api: Api, redis_url: str, app_with: Callable[..., str]
) -> None:
    url = own_app(api, redis_url, app_with, auth_failure_limit="10 per minute")
    attacker, mark = new_address(), last_audit_id(api)
    fake = "vs_abcdefgh_" + "A" * 43
    with client(url, attacker) as c:
        codes = [
            c.get("/v1/auth/me", headers={"X-API-Key": fake, "X-Forwarded-For": f"10.0.0.{n}"}).status_code
            for n in range(15)
        ]
    assert codes == [401] * 10 + [429] * 5
    with api.as_("alpha", "admin") as admin:
        key = admin.post("/v1/auth/api-keys", json={"name": "addr", "scopes": ["properties:read"]}).json()["key"]
    with client(url, new_address()) as c:
        assert c.get("/v1/auth/me", headers={"X-API-Key": key}).status_code == 200  # another address: unaffected
    rejected = audit_since(api, mark, "auth.api_key_rejected")
    assert len(rejected) == 10 and {d["ip"] for d in rejected} == {attacker}
    assert [d["ip"] for d in audit_since(api, mark, "auth.throttled")] == [attacker]  # once, not five times


def test_failed_tokens_are_limited_per_address(api: Api, redis_url: str, app_with: Callable[..., str]) -> None:
    url = own_app(api, redis_url, app_with, auth_failure_limit="5 per minute")
    with client(url, new_address()) as c:
        codes = [c.get("/v1/auth/me", headers={"Authorization": f"Bearer forged.{n}.x"}).status_code for n in range(8)]
    assert codes == [401] * 5 + [429] * 3
    with client(url, new_address()) as c:
        assert good_login(c, api.emails["beta"]["viewer"]).status_code == 200


# --- the Ray engine behind Ray's HAProxy ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def serve_url(api: Api, redis_url: str, ray_cluster: object) -> Iterator[str]:
    api_settings = {"redis_prefix": f"{REDIS_PREFIX}-haproxy", "auth_failure_limit": "10 per minute"}
    with running_on_serve(
        api.database_url, redis_url, JWT_SECRET, pool_size=2, api=api_settings, scorer_replicas=1
    ) as url:
        yield url


def haproxy_processes(port: int, timeout_s: float = 30) -> list[psutil.Process]:
    """The listeners on the port with their parents. Ray reloads HAProxy by starting a new one beside the old,
    which then exits: a listener that vanishes while being read is looked up again (until a deadline)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            owners = [
                psutil.Process(c.pid)
                for c in psutil.net_connections("tcp")
                if c.status == psutil.CONN_LISTEN and c.laddr.port == port and c.pid
            ]
            parents = [p.parent() for p in owners]
            if owners and all(p.name() == "haproxy" for p in owners) and all(parents):
                return owners
        except psutil.NoSuchProcess:
            pass
        assert time.monotonic() < deadline, f"no stable HAProxy listener on port {port}"
        time.sleep(0.2)  # polling the process table, with the deadline above


def test_rays_haproxy_is_started_through_the_launcher_that_adds_the_rule(serve_url: str) -> None:
    """Ray also rewrites haproxy.cfg without a restart (server state), so the file on disk is not what runs: check
    that Ray's HAProxy manager starts HAProxy through our launcher, and that the launcher's rules carry the
    X-Forwarded-For rule; the tests below check what the gateway then sees."""
    port = int(serve_url.rsplit(":", 1)[1])
    deadline = time.monotonic() + 30
    while True:
        try:
            launchers = {Path(p.parent().environ()["RAY_SERVE_HAPROXY_BINARY_PATH"]) for p in haproxy_processes(port)}
            break
        except psutil.NoSuchProcess:  # a reload ended the old HAProxy between the listing and the read
            assert time.monotonic() < deadline
    for launcher in launchers:
        assert launcher.read_text().count("haproxy_rules.py") == 1
        rules = json.loads((launcher.parent / "frontend-rules.json").read_text())
        assert rules[0] == haproxy_rules.FORWARDED_FOR_RULE  # first: before any rule that answers


def test_through_haproxy_the_gateway_sees_each_clients_own_address(
    api: Api, serve_url: str, accounts: dict[str, str]
) -> None:
    first, second, mark = new_address(), new_address(), last_audit_id(api)
    with client(serve_url, first) as a, client(serve_url, second) as b:
        assert wrong_login(a, accounts["viewer"], forged="203.0.113.50").status_code == 401
        assert wrong_login(b, accounts["viewer"]).status_code == 401
    assert [d["ip"] for d in audit_since(api, mark, "auth.login_failed")] == [first, second]


def test_through_haproxy_thirty_wrong_logins_lock_nobody_else_out(
    api: Api, serve_url: str, accounts: dict[str, str]
) -> None:
    with client(serve_url, new_address()) as c:
        codes = [wrong_login(c, accounts["manager"], forged=f"10.1.1.{n}").status_code for n in range(30)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes
    with client(serve_url, new_address()) as colleague:
        assert good_login(colleague, accounts["viewer"]).status_code == 200
    with client(serve_url, new_address()) as owner:
        assert good_login(owner, accounts["manager"]).status_code == 200


def test_through_haproxy_varying_forwarded_for_does_not_escape_the_failed_key_limit(serve_url: str) -> None:
    fake = "vs_abcdefgh_" + "B" * 43
    with client(serve_url, new_address()) as c:
        codes = [
            c.get("/v1/auth/me", headers={"X-API-Key": fake, "X-Forwarded-For": f"10.2.0.{n}"}).status_code
            for n in range(14)
        ]
    assert codes == [401] * 10 + [429] * 4
