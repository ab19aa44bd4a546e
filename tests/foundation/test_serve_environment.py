"""What a `ray start` on a cluster node gets (`eval "$(python -m cluster.ray_runtime)"`), and whose X-Forwarded-For
the gateway believes by default with it and without it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cluster import haproxy_rules
from deployments.api.settings import ApiSettings

REPO = Path(__file__).resolve().parents[2]


def test_the_exports_start_haproxy_through_the_launcher_and_mark_it() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_SERVE_", "VS_", "FORWARDED_"))}
    out = subprocess.run(
        [sys.executable, "-m", "cluster.ray_runtime"], cwd=REPO, env=env, capture_output=True, text=True, check=True
    ).stdout
    exports = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    assert exports["RAY_SERVE_ENABLE_HA_PROXY"] == "1"
    assert exports["VS_HAPROXY_SETS_FORWARDED_FOR"] == "1"
    assert exports["FORWARDED_ALLOW_IPS"] == "''"
    launcher = Path(exports["RAY_SERVE_HAPROXY_BINARY_PATH"])
    assert os.access(launcher, os.X_OK)
    rules = (launcher.parent / "frontend-rules.json").read_text()
    assert haproxy_rules.FORWARDED_FOR_RULE in rules


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"RAY_SERVE_ENABLE_HA_PROXY": "1", "VS_HAPROXY_SETS_FORWARDED_FOR": "1"}, ["127.0.0.1/32", "::1/128"]),
        ({"RAY_SERVE_ENABLE_HA_PROXY": "1"}, None),  # HAProxy passes the client's header on: believe no one
        ({"RAY_SERVE_ENABLE_HA_PROXY": "0", "VS_HAPROXY_SETS_FORWARDED_FOR": "1"}, None),
    ],
)
def test_the_gateway_believes_loopback_only_behind_the_launcher(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: list[str] | None
) -> None:
    from deployments.gateway import behind_haproxy_defaults

    monkeypatch.delenv("VS_HAPROXY_SETS_FORWARDED_FOR", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert behind_haproxy_defaults(ApiSettings()).trusted_proxies == expected
    configured = ApiSettings(trusted_proxies="10.0.0.0/16")
    assert behind_haproxy_defaults(configured).trusted_proxies == ["10.0.0.0/16"]
