"""The demo's city, organization and live publisher (the `vsentinel demo` command is in cluster/cli_demo.py),
over the core's queries: this module orchestrates and holds no SQL.

The city ends on the day the demo runs: a data directory's city is synthesized once (seven years up to that
day) and, when the demo runs again on a later day, brought up to date with what the city would have published
in between (citysim.synth.live), so its deadlines are always ahead of or just behind today, never all in the
past. `--live` keeps publishing while the demo runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from citysim.synth.city import write_city
from citysim.synth.config import SynthConfig
from citysim.synth.live import HPD, LiveCity, Publisher
from sentinel.alerts import queries as alert_rules
from sentinel.auth import users
from sentinel.auth.organizations import create_organization
from sentinel.deadlines import upcoming_for_org
from sentinel.portfolios import queries as portfolios

DEMO_LOGIN = ("demo@violationsentinel.test", "sentinel-demo")
CITY_YEARS = 7
# The demo organization's rules: (name, condition, channels). Email goes to the local mailbox.
DEMO_RULES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("New Class C violation", {"type": "new_violation", "sources": ["HPD"], "classes": ["C"]}),
    ("Certify-by date within 7 days", {"type": "deadline_approaching", "deadlines": ["certify_by"], "within_days": 7}),
)
WATCHED_BUILDINGS = 25  # the demo portfolio: the lots with the most open violations
DEMO_SCOPE = {"type": "organization"}
DEMO_CHANNELS = [{"kind": "email", "target": DEMO_LOGIN[0]}, {"kind": "console", "target": "demo"}]


@dataclass(frozen=True)
class DemoCity:
    path: Path
    start: date
    end: date  # the day the city was synthesized up to (later days come from live/)
    buildings: int
    seed: int


def city_dir(data_dir: Path, buildings: int, seed: int) -> Path:
    return data_dir / f"demo-city-{buildings}-{seed}-live"


def prepare_city(data_dir: Path, buildings: int, seed: int, today: date, log: Callable[[str], None]) -> DemoCity:
    """The data directory's demo city, synthesized up to `today` when there is none yet."""
    path = city_dir(data_dir, buildings, seed)
    # A dot file: the replay server serves every other .json in the folder as a dataset, and logged an error
    # for this one on every demo. A manifest from before keeps working.
    manifest = path / ".demo-city.json"
    if (path / "demo-city.json").is_file() and not manifest.is_file():
        (path / "demo-city.json").rename(manifest)
    if manifest.is_file():
        meta = orjson.loads(manifest.read_bytes())
        city = DemoCity(path, date.fromisoformat(meta["start"]), date.fromisoformat(meta["end"]), buildings, seed)
        if city.end > today:
            raise ValueError(
                f"{path} holds a city that ends on {city.end}, after {today}: a city cannot go back in time "
                "(use another VS_DATA_DIR)"
            )
        return city
    if (data_dir / f"demo-city-{buildings}-{seed}").is_dir():
        log(
            f"note: {data_dir} also holds an older demo's city (ending 2025-12-31); if its database is this one, its "
            "records stay beside the new city's: a fresh VS_DATA_DIR gives a clean demo"
        )
    start = date(today.year - CITY_YEARS, 1, 1)
    log(f"synthesizing a city of {buildings} buildings from {start} to {today} in {path}")
    write_city(SynthConfig(buildings=buildings, start=start, end=today, seed=seed), path)
    manifest.write_bytes(orjson.dumps({"start": start.isoformat(), "end": today.isoformat()}))
    return DemoCity(path, start, today, buildings, seed)


def _hpd_rows(replay_url: str, where: str, limit: int = 50_000) -> list[dict[str, Any]]:
    response = httpx.get(f"{replay_url}/resource/{HPD}.json", params={"$where": where, "$limit": limit}, timeout=60)
    response.raise_for_status()
    return response.json()


def one_per_building(rows: list[dict[str, Any]], bbls: set[str] | None = None) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        bbl = row.get("bbl")
        if bbl and bbl != "0" and (bbls is None or bbl in bbls):
            seen.setdefault(bbl, row)
    return list(seen.values())


def bring_up_to_date(
    city: DemoCity, replay: Publisher, replay_url: str, today: date, log: Callable[[str], None]
) -> int:
    """Serve what was published since the city was written, then publish the days up to `today` it missed.
    Returns the rows published now."""
    live = LiveCity(city.path, replay, seed=city.seed)
    replayed = live.replay_saved()
    last = max(city.end, live.last_day() or city.end)
    if last >= today:
        return 0
    rows = _hpd_rows(replay_url, "1=1")
    per_day = len(rows) / max(1, (city.end - city.start).days)
    open_ids = [r["violationid"] for r in rows if r.get("violationstatus") == "Open"]
    published = live.catch_up(one_per_building(rows), open_ids, last, today, per_day)
    log(f"the city caught up from {last} to {today}: {published} new violations ({replayed} earlier changes kept)")
    return published


def demo_organization(database_url: str) -> int:
    """The demo organization (idempotent): an admin login, a portfolio of the 25 buildings with the most open
    violations, and its rules, whose email goes to the local mailbox. Returns its id."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        org_id = demo_org_id(conn)
        if org_id is None:
            org_id, _ = create_organization(
                conn, name="Demo Property Management", admin_email=DEMO_LOGIN[0], admin_password=DEMO_LOGIN[1]
            )
            with conn.transaction():
                portfolio = portfolios.create(conn, org_id, "Watched buildings")
                assert portfolio is not None  # a new organization has no portfolio of that name yet
                watched = portfolios.lots_with_most_open_violations(conn, WATCHED_BUILDINGS)
                portfolios.add_buildings(conn, portfolio.id, dict.fromkeys(watched))
        with conn.transaction():
            _demo_rules(conn, org_id)
    return org_id


def _demo_rules(conn: psycopg.Connection[Any], org_id: int) -> None:
    """The demo's rules; an older demo's rule of the same name is brought to this definition (an unchanged one is
    untouched)."""
    existing = {rule["name"]: rule for rule in alert_rules.list_rules(conn, org_id)}
    for name, condition in DEMO_RULES:
        values = alert_rules.RuleValues(
            name=name, condition=condition, scope=DEMO_SCOPE, channels=DEMO_CHANNELS, delivery="immediate",
            quiet_hours=None, cooldown_minutes=0, enabled=True,
        )  # fmt: skip
        rule = existing.get(name)
        if rule is None:
            alert_rules.create_rule(conn, org_id, None, values)
        elif (rule["condition"], rule["scope"], rule["channels"]) != (condition, DEMO_SCOPE, DEMO_CHANNELS):
            alert_rules.replace_rule(conn, rule["id"], org_id, values)


def watched_templates(database_url: str, replay_url: str) -> list[dict[str, Any]]:
    """A published HPD row of each building the demo organization watches (new violations copy its fields)."""
    from sentinel.alerts.engine import load_directory  # the engine's imports: only live mode pays them

    with psycopg.connect(database_url) as conn:
        org_id = demo_org_id(conn)
        members = load_directory(conn, org_id).members.values() if org_id is not None else []
    return one_per_building(_hpd_rows(replay_url, "1=1"), set().union(*members))


def watched_open_hpd_ids(database_url: str, limit: int = 500) -> list[str]:
    """Open HPD violations of the watched buildings, oldest first: the live publisher closes some of them."""
    with psycopg.connect(database_url) as conn:
        org_id = demo_org_id(conn)
        return portfolios.open_violation_ids(conn, org_id, "HPD", limit) if org_id is not None else []


def publish_forever(
    city: DemoCity, replay: Publisher, templates: list[dict[str, Any]], open_ids: list[str],
    today: Callable[[], date], stop: threading.Event, every_s: float = 60.0, log: Callable[[str], None] = print,
) -> None:  # fmt: skip
    """The city keeps living: at once and then every `every_s` seconds, a new violation at a watched building
    (Class C every other time, starting with one) and the closing of an open one, until `stop` is set."""
    live = LiveCity(city.path, replay, seed=city.seed + 1)
    classes = ["C", "B", "C", "A"]
    n = 0
    while not stop.is_set() and templates:
        klass = classes[n % len(classes)]
        close = [open_ids.pop()] if open_ids else []
        (row,) = live.publish(templates, [klass], today(), close)
        log(f"published a new Class {klass} violation ({row['violationid']}) at {row['bbl']} on the replay server")
        n += 1
        stop.wait(every_s)


def upcoming_deadlines(
    database_url: str, today: date, days: int = 60, limit: int = 5
) -> tuple[int, list[tuple[Any, ...]]]:
    """The demo portfolio's open certify-by and correct-by dates from `today` to `days` ahead: (count, first few)."""
    with psycopg.connect(database_url) as conn:
        org_id = demo_org_id(conn)
        if org_id is None:
            return 0, []
        return upcoming_for_org(conn, org_id, today, today + timedelta(days=days), limit)


def demo_org_id(conn: psycopg.Connection[Any]) -> int | None:
    """The demo organization: the one of the demo login (None before the first demo)."""
    accounts = users.accounts_for_login(conn, DEMO_LOGIN[0], None)
    return accounts[0].org_id if accounts else None
