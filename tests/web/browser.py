"""What every browser test does: sign in, look for accessibility problems with axe-core, save a screenshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web.conftest import AXE, Stack

SERIOUS = {"serious", "critical"}


def sign_in(page: Any, stack: Stack, org: str, role: str, path: str = "/") -> None:
    page.goto(stack.url + path)
    page.get_by_label("Email").fill(stack.emails[org][role])
    page.get_by_label("Password").fill(stack.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now (WCAG 2.1 A and AA rules)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the app's CSP (script-src 'self') rightly refuses an inline tag.
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
    result = page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in SERIOUS
    ]


def check_screen(page: Any, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    found = serious_violations(page)
    assert not found, f"{name}: {found}"
