"""Alert rules are checked when saved: channel targets the notifier may reach (sentinel.outbound) and bounded
contents (recipients, scope, condition), each refused with a 422 that names the field and the reason."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import psycopg
import pytest

from sentinel.outbound import OutboundPolicy
from tests.api import seed
from tests.api.conftest import Api, make_deps
from tests.channels.receivers import start_http_receiver

ORG = "rule-contents"  # its own organization: other tests change the shared ones' users (roles, sessions)
RULE = {"name": "hooks", "condition": {"type": "new_violation"}, "scope": {"type": "organization"}}


@pytest.fixture(scope="module", autouse=True)
def own_org(api: Api) -> None:
    with psycopg.connect(api.database_url) as conn:
        _, api.emails[ORG] = seed.add_org(conn, ORG)


def _with(channel: dict[str, str]) -> dict[str, object]:
    return {**RULE, "channels": [{"kind": "email", "target": "ok@alpha.test"}, channel]}


@pytest.mark.parametrize(
    ("channel", "reason"),
    [
        ({"kind": "webhook", "target": "http://127.0.0.1:5432/"}, "only https"),
        ({"kind": "webhook", "target": "https://127.0.0.1:5432/"}, "loopback address (127.0.0.1)"),
        ({"kind": "webhook", "target": "https://2130706433:6379/"}, "loopback address (127.0.0.1)"),
        ({"kind": "webhook", "target": "https://localhost/hook"}, "loopback"),
        ({"kind": "slack", "target": "https://[::ffff:127.0.0.1]/services/T/B/x"}, "loopback address inside an IPv6"),
        ({"kind": "slack", "target": "https://10.0.0.8/services/T/B/x"}, "private address"),
        ({"kind": "webhook", "target": "https://169.254.169.254/latest/meta-data/"}, "link-local"),
        ({"kind": "webhook", "target": "gopher://8.8.8.8/"}, "scheme"),
        ({"kind": "webhook", "target": "https://no-such-receiver.invalid/hook"}, "does not resolve"),
    ],
)
def test_a_rule_with_an_unreachable_or_internal_target_is_refused_naming_the_channel(
    api: Api, channel: dict[str, str], reason: str
) -> None:
    with api.as_(ORG, "manager") as m:
        created = m.post("/v1/alert-rules", json=_with(channel))
        dry_run = m.post("/v1/alert-rules/dry-run", json=_with(channel))
        rules = m.get("/v1/alert-rules").json()
    assert created.status_code == 422, created.text
    error = created.json()["error"]
    assert error["code"] == "invalid_rule"
    assert error["message"].startswith(f"channels[1] ({channel['kind']}): ")
    assert reason in error["message"]
    assert dry_run.status_code == 422
    assert all(r["name"] != "hooks" for r in rules)


def test_replacing_a_rule_checks_its_targets_too(api: Api) -> None:
    with api.as_(ORG, "manager") as m:
        rule_id = m.post("/v1/alert-rules", json={**RULE, "name": "to replace"}).json()["id"]
        replaced = m.put(f"/v1/alert-rules/{rule_id}", json=_with({"kind": "webhook", "target": "https://[::1]/"}))
        stored = m.get(f"/v1/alert-rules/{rule_id}").json()
    assert replaced.status_code == 422
    assert stored["channels"] == []


def test_an_allow_listed_on_premise_receiver_is_accepted(api: Api, app_with: Callable[..., str]) -> None:
    receiver = start_http_receiver()
    try:
        deps = make_deps(api.database_url, None)
        deps.outbound = OutboundPolicy(allow=("127.0.0.1",), allow_http=True)
        with httpx.Client(base_url=app_with(deps), headers=api.login(ORG, "manager"), timeout=30) as c:
            ok = c.post("/v1/alert-rules", json=_with({"kind": "webhook", "target": f"{receiver.url}/hook"}))
            other = c.post("/v1/alert-rules", json=_with({"kind": "webhook", "target": "http://10.1.1.1/hook"}))
        assert ok.status_code == 201, ok.text
        assert other.status_code == 422 and "private" in other.json()["error"]["message"]
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"channels": [{"kind": "email", "target": ",".join(f"r{i}@alpha.test" for i in range(50_000))}]},
            "channels[0] (email): the target is longer than 2048 characters",
        ),
        (
            {"channels": [{"kind": "email", "target": ",".join(f"r{i}@a.test" for i in range(26))}]},
            "channels[0] (email): 26 recipients, at most 25 allowed",
        ),
        (
            # Within the 1 MiB body limit (200,000 BBLs are a 413 before they are read).
            {"scope": {"type": "buildings", "bbls": [f"1{i:09d}" for i in range(1, 50_001)]}},
            "scope.bbls: 50000 buildings, at most 5000 allowed",
        ),
        (
            {"condition": {"type": "new_violation", "categories": [f"c{i}" for i in range(51)]}},
            "condition.categories: 51 values, at most 50 allowed",
        ),
        (
            {"condition": {"type": "new_complaint", "complaint_types": ["HEAT" * 30]}},
            "condition.complaint_types: values longer than 100 characters",
        ),
        (
            {
                "condition": {
                    "type": "new_violation",
                    **{f: [f"{f}{i:02d}-" + "x" * 60 for i in range(50)] for f in ("sources", "classes", "categories")},
                }
            },
            "bytes, at most 8192 allowed",
        ),
    ],
)
def test_rule_contents_are_bounded(api: Api, change: dict[str, object], message: str) -> None:
    with api.as_(ORG, "manager") as m:
        r = m.post("/v1/alert-rules", json={**RULE, "name": "too big", **change})
    assert r.status_code == 422, r.text[:500]
    assert r.json()["error"]["code"] == "invalid_rule"
    assert message in r.json()["error"]["message"]


def test_a_rule_at_the_bounds_is_accepted(api: Api) -> None:
    body = {
        **RULE,
        "name": "at the bounds",
        "scope": {"type": "buildings", "bbls": [f"1{i:09d}" for i in range(1, 5001)]},
        "channels": [{"kind": "email", "target": ",".join(f"r{i}@a.test" for i in range(25))}],
    }
    with api.as_(ORG, "manager") as m:
        r = m.post("/v1/alert-rules", json=body)
    assert r.status_code == 201, r.text[:500]
