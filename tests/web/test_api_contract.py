"""The web app's client is checked against the running API's /openapi.json: every /v1 path and method the
screens call exists, so a renamed route fails here rather than in a person's browser."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import REPO_ROOT
from tests.web.conftest import Stack

pytestmark = pytest.mark.integration

# api<T>("/v1/...", { method: "POST" ... }) and send(...) (sign-in and refresh), template literals with ${...}
CALL = re.compile(r"""(?:api<[^(]*>|send)\(\s*[`"](/v1/[^`"?]*)[^`"]*[`"](?:\s*,\s*\{\s*method:\s*"(\w+)")?""")


def client_calls() -> set[tuple[str, str]]:
    calls = set()
    for source in (REPO_ROOT / "web" / "src").rglob("*.ts*"):
        for path, method in CALL.findall(source.read_text(encoding="utf-8")):
            calls.add((re.sub(r"\$\{[^}]+\}", "{}", path), (method or "get").lower()))
    return calls


def test_every_call_of_the_web_client_exists_in_the_openapi(web_stack: Stack) -> None:
    spec = httpx.get(f"{web_stack.url}/openapi.json", timeout=30).json()
    offered = {(re.sub(r"\{[^}]+\}", "{}", path), method) for path, ops in spec["paths"].items() for method in ops}
    calls = client_calls()
    assert len(calls) >= 20  # the pattern still finds the client's calls
    assert calls <= offered, sorted(calls - offered)
