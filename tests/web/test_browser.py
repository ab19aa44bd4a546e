"""The web app in headless Chromium against the real stack: the screens a property manager uses, keyboard and
accessibility included, and the walls between roles and organizations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.web.browser import check_screen, sign_in
from tests.web.conftest import Stack

pytestmark = pytest.mark.integration

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    p.console_errors = errors  # a test that provokes an error on purpose takes it off this list
    yield p
    context.close()
    assert not errors, errors  # a script error or a failed request on any screen fails the test


def overall_scores(page: Any) -> list[int]:
    cells = page.locator("table.buildings tbody td[data-testid=overall] .score").all_inner_texts()
    return [int(c.split()[-1]) for c in cells if c.strip()[-1].isdigit()]


def test_sign_in_portfolio_sort_by_risk_and_property_page(page: Any, web_stack: Stack, artifacts: Path) -> None:
    sign_in(page, web_stack, "alpha", "manager")
    page.get_by_role("heading", name="Alpha Residential").wait_for()
    rows = page.locator("table.buildings tbody tr")
    assert rows.count() == len(web_stack.city.alpha_bbls)
    page.locator(".map path.leaflet-interactive").first.wait_for()  # the lazily loaded map drew its markers
    page.locator("figure .chart canvas").first.wait_for()  # and the chart its line
    check_screen(page, artifacts, "portfolio")

    page.get_by_role("button", name="Sort by Overall").focus()
    page.keyboard.press("Enter")  # the table sorts from the keyboard
    scores = overall_scores(page)
    assert len(scores) >= 10
    assert scores == sorted(scores, reverse=True)
    assert page.locator("th[aria-sort=descending]").inner_text().startswith("Overall")

    riskiest = rows.first.get_by_role("link")
    address = riskiest.inner_text()
    riskiest.click()
    page.get_by_role("heading", level=1, name=re.compile(re.escape(address))).wait_for()
    page.get_by_test_id("reasons").locator("li").first.wait_for()
    # Whichever scorer serves (the model: "39 open violations"; the calibrated count, by class: "5 open Class C
    # violations"), the riskiest building's reasons count its open violations in words.
    reasons = page.get_by_test_id("reasons").inner_text()
    assert re.search(r"\b\d[\d,]* open (Class [ABC] |hazardous DOB/ECB )?violations?\b", reasons), reasons
    timeline = page.get_by_test_id("timeline").locator("li")
    timeline.first.wait_for()
    assert timeline.count() > 3
    assert "violation issued" in page.get_by_test_id("timeline").inner_text()
    page.get_by_role("heading", name="Score history").wait_for()
    # The city's history rises month by month to today's score: the arrow beside Overall says so too.
    assert page.locator(".trend").first.get_attribute("aria-label") == "rising"
    check_screen(page, artifacts, "property")
    edges = freshness_edges(page)
    assert edges["rows"] >= 10, edges  # every dataset of the city was loaded: a table as wide as a real one
    # At 1280 px every column shows without scrolling (the scroll box is for phones) and nothing overflows the page.
    assert edges["table"] <= edges["card"] and edges["page"] <= 1280, edges


def freshness_edges(page: Any) -> dict[str, float]:
    """The data freshness table's right edge (its whole width, scrolled out of sight or not), its card's, and the
    page's scroll width."""
    return page.evaluate(
        """() => {
            const card = document.querySelector("section[aria-labelledby=fresh-title]");
            const table = card.querySelector("table");
            return {rows: table.tBodies[0].rows.length, table: table.getBoundingClientRect().right,
                    card: card.getBoundingClientRect().right, page: document.documentElement.scrollWidth};
        }"""
    )


def test_a_lapsed_access_token_is_refreshed_without_leaving_the_page(page: Any, web_stack: Stack) -> None:
    bbl = web_stack.city.alpha_bbls[0]
    sign_in(page, web_stack, "alpha", "viewer", f"/property/{bbl}")
    page.get_by_role("heading", name="Building facts").wait_for()
    page.evaluate(
        "() => { const s = JSON.parse(sessionStorage.getItem('vs.session'));"
        " s.access_token = 'expired'; sessionStorage.setItem('vs.session', JSON.stringify(s)); }"
    )
    page.reload()
    page.get_by_role("heading", name="Building facts").wait_for()
    assert page.url.endswith(f"/property/{bbl}")
    assert page.evaluate("JSON.parse(sessionStorage.getItem('vs.session')).access_token") != "expired"
    # The browser logs the one 401 that started the refresh; nothing else failed.
    assert page.console_errors and all("401" in e for e in page.console_errors)
    page.console_errors.clear()


def test_an_ended_session_says_so_and_signing_in_again_returns_to_the_page(page: Any, web_stack: Stack) -> None:
    bbl = web_stack.city.alpha_bbls[2]
    sign_in(page, web_stack, "alpha", "viewer", f"/property/{bbl}")
    page.get_by_role("heading", name="Building facts").wait_for()
    session = page.evaluate("JSON.parse(sessionStorage.getItem('vs.session'))")
    body = {"refresh_token": session["refresh_token"], "everywhere": True}
    r = httpx.post(f"{web_stack.url}/v1/auth/logout", json=body)
    assert r.status_code == 204  # e.g. signed out everywhere from another device
    page.evaluate(
        "() => { const s = JSON.parse(sessionStorage.getItem('vs.session'));"
        " s.access_token = 'expired'; sessionStorage.setItem('vs.session', JSON.stringify(s)); }"
    )
    page.reload()
    page.get_by_text("Your session ended. Sign in again to continue where you were.").wait_for()
    assert page.url.endswith(f"/property/{bbl}")
    page.get_by_label("Email").fill(web_stack.emails["alpha"]["viewer"])
    page.get_by_label("Password").fill(web_stack.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Building facts").wait_for()
    assert page.url.endswith(f"/property/{bbl}")
    assert page.console_errors and all("401" in e for e in page.console_errors)
    page.console_errors.clear()


def test_search_suggests_buildings_and_opens_one_with_the_keyboard(page: Any, web_stack: Stack) -> None:
    sign_in(page, web_stack, "alpha", "viewer")
    with psycopg.connect(web_stack.database_url) as conn:
        address = conn.execute(
            "SELECT address FROM properties WHERE bbl = %s", (web_stack.city.alpha_bbls[1],)
        ).fetchone()[0]
    box = page.get_by_role("combobox", name="Search buildings")
    box.fill(address)
    page.get_by_role("option", name=re.compile(re.escape(address))).wait_for()
    box.press("ArrowDown")
    box.press("Enter")
    page.wait_for_url(f"**/property/{web_stack.city.alpha_bbls[1]}")


def test_acknowledge_an_alert_and_the_badge_counts_down(page: Any, web_stack: Stack, artifacts: Path) -> None:
    sign_in(page, web_stack, "alpha", "manager", "/alerts")
    badge = page.get_by_test_id("unack-badge")
    page.get_by_test_id("alert-row").first.wait_for()
    before = int(badge.locator("[aria-hidden=true]").inner_text())
    check_screen(page, artifacts, "alerts")
    page.get_by_label("Severity").select_option("hazardous")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=alert-row]').length == 2")
    assert page.locator("[data-testid=alert-row] td:nth-child(4)").all_inner_texts() == ["Hazardous", "Hazardous"]
    page.get_by_label("Severity").select_option("")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=alert-row]').length == 4")
    row = page.get_by_test_id("alert-row").first
    title = row.locator("td").nth(2).inner_text()
    row.get_by_role("button", name="Acknowledge").click()
    page.get_by_text(title).wait_for(state="detached")
    page.wait_for_function(
        "n => document.querySelector('[data-testid=unack-badge] [aria-hidden=true]').textContent == String(n)",
        arg=before - 1,
    )
    with psycopg.connect(web_stack.database_url) as conn:
        acked = conn.execute("SELECT acknowledged_at IS NOT NULL FROM alerts WHERE title = %s", (title,)).fetchone()
    assert acked == (True,)


def test_create_a_rule_only_after_its_dry_run(page: Any, web_stack: Stack, artifacts: Path) -> None:
    sign_in(page, web_stack, "alpha", "manager", "/rules")
    page.get_by_role("button", name="New rule").click()
    page.get_by_label("Name").fill("Class C anywhere")
    page.get_by_label("When").select_option("new_violation")
    page.get_by_label("Classes (comma separated, e.g. C)").fill("C")
    save = page.get_by_role("button", name="Save")
    assert save.is_disabled()
    page.get_by_role("button", name="Check against the last 30 days").click()
    result = page.get_by_test_id("dry-run")
    result.wait_for()
    assert re.search(r"would have fired \d+ times? in the last 30 days", result.inner_text())
    check_screen(page, artifacts, "rules")
    save.click()
    page.get_by_test_id("rule-row").filter(has_text="Class C anywhere").wait_for()
    with psycopg.connect(web_stack.database_url) as conn:
        condition = conn.execute("SELECT condition FROM alert_rules WHERE name = 'Class C anywhere'").fetchone()
    assert condition is not None and condition[0]["classes"] == ["C"]


def test_create_an_api_key_shown_once(page: Any, web_stack: Stack, artifacts: Path) -> None:
    sign_in(page, web_stack, "alpha", "admin", "/admin")
    page.get_by_label("Key name").fill("reporting")
    page.get_by_role("button", name="Create API key").click()
    key = page.get_by_test_id("new-key").inner_text()
    assert key.startswith("vs_")
    check_screen(page, artifacts, "admin")
    r = httpx.get(f"{web_stack.url}/v1/properties/{web_stack.city.alpha_bbls[0]}", headers={"X-API-Key": key})
    assert r.status_code == 200
    page.reload()
    page.get_by_role("heading", name="API keys").wait_for()
    assert page.get_by_test_id("new-key").count() == 0
    assert key not in page.content()


def test_edit_a_rule_needs_a_new_dry_run(page: Any, web_stack: Stack) -> None:
    sign_in(page, web_stack, "alpha", "manager", "/rules")
    page.get_by_role("link", name="Edit Alpha class C").click()
    name = page.get_by_label("Name")
    assert name.input_value() == "Alpha class C"
    assert page.get_by_label("Classes (comma separated, e.g. C)").input_value() == "C"
    name.fill("Alpha class C and B")
    page.get_by_label("Classes (comma separated, e.g. C)").fill("C, B")
    save = page.get_by_role("button", name="Save")
    assert save.is_disabled()
    page.get_by_role("button", name="Check against the last 30 days").click()
    page.get_by_test_id("dry-run").wait_for()
    save.click()
    page.get_by_test_id("rule-row").filter(has_text="Alpha class C and B").wait_for()
    with psycopg.connect(web_stack.database_url) as conn:
        row = conn.execute("SELECT condition FROM alert_rules WHERE name = 'Alpha class C and B'").fetchone()
    assert row is not None and sorted(row[0]["classes"]) == ["B", "C"]


def test_admin_adds_a_user_and_sets_the_time_zone(page: Any, web_stack: Stack) -> None:
    sign_in(page, web_stack, "alpha", "admin", "/admin")
    page.get_by_label("Email", exact=True).fill("new.viewer@alpha.test")
    page.get_by_label("Initial password (12 characters or more)").fill("a long enough password")
    page.get_by_role("button", name="Add user").click()
    page.get_by_role("combobox", name="Role: new.viewer@alpha.test").wait_for()
    assert page.get_by_role("combobox", name="Role: new.viewer@alpha.test").input_value() == "viewer"
    page.get_by_label("Time zone").fill("America/Chicago")
    page.get_by_role("button", name="Save").click()
    page.get_by_label("Time zone").fill("Mars/Olympus")
    page.get_by_role("button", name="Save").click()
    assert "unknown time zone" in page.get_by_role("alert").inner_text()
    with psycopg.connect(web_stack.database_url) as conn:
        zone = conn.execute("SELECT timezone FROM organizations WHERE name = 'alpha'").fetchone()
        role = conn.execute("SELECT role FROM users WHERE email = 'new.viewer@alpha.test'").fetchone()
    assert zone == ("America/Chicago",) and role == ("viewer",)
    assert all("422" in e for e in page.console_errors)
    page.console_errors.clear()


def test_sign_out_ends_the_session(page: Any, web_stack: Stack) -> None:
    sign_in(page, web_stack, "alpha", "viewer")
    refresh_token = page.evaluate("JSON.parse(sessionStorage.getItem('vs.session')).refresh_token")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    page.reload()
    page.get_by_role("heading", name="Sign in").wait_for()
    r = httpx.post(f"{web_stack.url}/v1/auth/refresh", json={"refresh_token": refresh_token})
    assert r.status_code == 401


def test_a_wrong_password_is_said_in_words(page: Any, web_stack: Stack) -> None:
    page.goto(web_stack.url)
    page.get_by_label("Email").fill(web_stack.emails["alpha"]["admin"])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "That email and password do not match an active account."
    assert all("401" in e for e in page.console_errors)
    page.console_errors.clear()


def test_a_viewer_sees_no_write_buttons(page: Any, web_stack: Stack) -> None:
    sign_in(page, web_stack, "alpha", "viewer")
    page.get_by_role("heading", name="Alpha Residential").wait_for()
    assert page.get_by_role("button", name="Add to portfolio").count() == 0
    assert page.get_by_role("link", name="Admin").count() == 0
    page.get_by_role("link", name=re.compile("^Alerts")).click()
    page.get_by_test_id("alert-row").first.wait_for()
    assert page.get_by_role("button", name=re.compile("Acknowledge")).count() == 0
    assert page.get_by_role("checkbox", name=re.compile("Select")).count() == 0
    page.get_by_role("link", name="Rules").click()
    page.get_by_test_id("rule-row").first.wait_for()
    assert page.get_by_role("button", name="New rule").count() == 0
    assert page.get_by_role("link", name=re.compile("^Edit")).count() == 0


def test_a_second_organization_never_sees_the_first(page: Any, web_stack: Stack) -> None:
    city = web_stack.city
    with psycopg.connect(web_stack.database_url) as conn:
        alpha_addresses = [
            r[0] for r in conn.execute("SELECT address FROM properties WHERE bbl = ANY(%s)", (city.alpha_bbls,))
        ]
    sign_in(page, web_stack, "beta", "admin")
    page.get_by_role("heading", name="Beta Holdings").wait_for()
    assert page.locator("table.buildings tbody tr").count() == len(city.beta_bbls)
    text = page.inner_text("main")
    assert "Alpha" not in text and not any(a in text for a in alpha_addresses)
    page.get_by_role("link", name=re.compile("^Alerts")).click()
    page.get_by_test_id("alert-row").first.wait_for()
    feed = page.inner_text("main")
    assert all(t in feed for t in city.beta_alert_titles)
    assert not any(t in feed for t in city.alpha_alert_titles)
    page.goto(f"{web_stack.url}/portfolios/{city.alpha_portfolio}")
    assert "could not find" in page.get_by_role("alert").inner_text()
    assert page.console_errors and all("404" in e for e in page.console_errors)  # the API's answers, said in words
    page.console_errors.clear()


def test_phone_layout_signin_and_portfolio(browser: Any, web_stack: Stack, artifacts: Path) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(web_stack.url)
        page.get_by_role("heading", name="Sign in").wait_for()
        check_screen(page, artifacts, "signin-phone")
        sign_in(page, web_stack, "alpha", "manager")
        page.get_by_role("heading", name="Alpha Residential").wait_for()
        page.locator("figure .chart canvas").first.wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        check_screen(page, artifacts, "portfolio-phone")
    finally:
        context.close()


def test_bulk_add_by_bbl_bin_and_address_says_what_matched_nothing(page: Any, web_stack: Stack) -> None:
    city = web_stack.city
    with psycopg.connect(web_stack.database_url) as conn:
        # Not every lot of the synthetic city has a BIN: add by BIN (and by address) one that has.
        bbl, bin_, address = conn.execute(
            "SELECT b.bbl, b.bin, p.address FROM buildings b JOIN properties p USING (bbl) WHERE b.bbl = ANY(%s) "
            "ORDER BY b.bbl LIMIT 1",
            (city.beta_bbls,),
        ).fetchone()
    by_bbl = next(b for b in city.beta_bbls if b != bbl)
    sign_in(page, web_stack, "alpha", "manager")
    rows = page.locator("table.buildings tbody tr")
    rows.first.wait_for()
    before = rows.count()
    lines = [by_bbl, bin_.strip(), address.title(), "1 NOWHERE STREET"]
    page.get_by_label(re.compile("^One per line")).fill("\n".join(lines))
    page.get_by_role("button", name="Add to portfolio").click()
    page.get_by_text("Not found: 1 NOWHERE STREET").wait_for()
    assert "2 buildings added." in page.get_by_role("status").filter(has_text="added").inner_text()
    page.wait_for_function(f"() => document.querySelectorAll('table.buildings tbody tr').length == {before + 2}")
