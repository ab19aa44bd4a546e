"""Alert benchmarks (run directly, against the local PostgreSQL on 127.0.0.1:5432; each run uses a fresh database).

    .venv/bin/python benchmarks/alerts.py throughput   # 10k rules x 100k changed records through evaluate_run
    .venv/bin/python benchmarks/alerts.py latency --interval 60 --changes 20

throughput: one ingestion run's 100k changed violations (30 % at watched buildings) evaluated against 10k rules
of 200 organizations; timed in phases (load rules, read the run's changes, match, store alerts + outbox rows).

latency: the product path with real servers: the replay server (real HPD sample), the scheduler core with its
ingestion job (serial ingestion of hpd_violations, then evaluate_run, then an outbox drain) at a fixed interval,
and a local SMTP server. Each change (a new Class C violation at a watched building) is published at a random
moment (seeded) and its latency is the time until the SMTP server holds its email.
"""

from __future__ import annotations

import argparse
import email
import random
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sentinel.db import migrate  # noqa: E402
from tests.conftest import LOCAL_PG, create_database, database_url_for, drop_database  # noqa: E402

CONDITIONS: list[dict[str, Any]] = [
    {"type": "new_violation", "sources": ["HPD"], "classes": ["C"]},
    {"type": "new_violation"},
    {"type": "new_violation", "severities": ["hazardous", "immediately_hazardous"]},
    {"type": "violation_status_change"},
    {"type": "new_complaint", "complaint_types": ["HEAT", "HOT WATER"]},
    {"type": "new_complaint"},
    {"type": "deadline_approaching", "within_days": 7},
    {"type": "deadline_overdue"},
    {"type": "risk_score", "crosses_above": 80, "jumps_by": 10},
    {"type": "penalty_balance_above", "amount": "10000"},
]


def _fresh_database() -> tuple[str, str]:
    name = create_database(LOCAL_PG, prefix="vs_bench_alerts")
    url = database_url_for(LOCAL_PG, name)
    migrate.upgrade(url)
    return name, url


def seed_throughput(conn: psycopg.Connection, rules: int, changes: int, orgs: int, per_org: int, seed: int) -> int:
    rng = random.Random(seed)
    city = orgs * per_org * 4
    watched = [f"{1 + n % 5}{n:09d}"[:10] for n in rng.sample(range(city), orgs * per_org)]
    with conn.cursor() as cur:
        cur.execute("INSERT INTO organizations (name) SELECT 'org ' || g FROM generate_series(1, %s) g", (orgs,))
        cur.execute("INSERT INTO portfolios (org_id, name) SELECT id, 'main' FROM organizations")
        with cur.copy("COPY portfolio_buildings (portfolio_id, bbl) FROM STDIN") as copy:
            for i, bbl in enumerate(watched):
                copy.write_row((1 + i // per_org, bbl))
        with cur.copy("COPY alert_rules (org_id, name, condition, scope, channels) FROM STDIN") as copy:
            for i in range(rules):
                channels = orjson.dumps([{"kind": "email", "target": f"org{i % orgs}@example.com"}]).decode()
                condition = orjson.dumps(CONDITIONS[i % len(CONDITIONS)]).decode()
                copy.write_row((1 + i % orgs, f"rule {i}", condition, '{"type": "organization"}', channels))
        run = cur.execute(
            "INSERT INTO ingestion_runs (mode, source_url, datasets, status, started_at)"
            " VALUES ('incremental', 'bench', '{hpd_violations}', 'succeeded', now() - interval '1 minute')"
            " RETURNING id"
        ).fetchone()
        assert run is not None
        with cur.copy(
            "COPY violations (source, source_id, bbl, class, severity, description, status, certify_by_date, raw,"
            " content_hash, last_run_id) FROM STDIN"
        ) as copy:
            for i in range(changes):
                bbl = rng.choice(watched) if rng.random() < 0.3 else f"{1 + i % 5}{rng.randrange(city):09d}"[:10]
                cls = rng.choice("ABC")
                severity = {"A": "non_hazardous", "B": "hazardous", "C": "immediately_hazardous"}[cls]
                due = datetime(2026, 12, 20).date()
                copy.write_row(
                    ("HPD", str(i), bbl, cls, severity, "REPAIR THE PLASTER", "open", due, "{}", "h", run[0])
                )
    conn.commit()
    return int(run[0])


def throughput(args: argparse.Namespace) -> None:
    from sentinel.alerts import engine
    from sentinel.alerts.evaluate import RuleIndex

    name, url = _fresh_database()
    try:
        with psycopg.connect(url) as conn:
            run_id = seed_throughput(conn, args.rules, args.changes, args.orgs, args.per_org, args.seed)
        with psycopg.connect(url, autocommit=True) as conn:
            now = datetime.now(UTC)
            t0 = time.perf_counter()
            ruleset = engine.load_rules(conn)
            t1 = time.perf_counter()
            events = engine.run_events(conn, run_id)
            t2 = time.perf_counter()
            candidates = RuleIndex(ruleset.rules, ruleset.directory).evaluate(events, now)
            t3 = time.perf_counter()
            print(
                f"{len(ruleset.rules)} rules, {len(events)} changed records -> {len(candidates)} candidates; "
                f"load rules {t1 - t0:.2f}s, read changes {t2 - t1:.2f}s, match {t3 - t2:.2f}s"
            )
            t4 = time.perf_counter()
            result = engine.evaluate_run(conn, run_id, now)
            t5 = time.perf_counter()
            print(
                f"evaluate_run end to end (load, read, match, store): {t5 - t4:.2f}s -> "
                f"{result.alerts_created} alerts, {result.notifications} outbox rows"
            )
            t6 = time.perf_counter()
            again = engine.evaluate_run(conn, run_id, now)
            print(f"re-evaluation: {time.perf_counter() - t6:.2f}s -> {again.alerts_created} alerts")
    finally:
        drop_database(LOCAL_PG, name)


def latency(args: argparse.Namespace) -> None:
    from citysim.replay.server import serve_in_background
    from cluster.scheduler import LocalAlerts, default_runners, ingest_with
    from sentinel.channels import ChannelSettings, SmtpSettings
    from sentinel.ingest.run import RunOptions, run_serial
    from sentinel.ingest.socrata import SocrataSource
    from sentinel.mailbox import EphemeralPortController
    from sentinel.scheduling import JobSpec, ScheduleConfig, ScheduleCore
    from tests.alerts import flow

    received: dict[str, float] = {}

    class Recorder:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
            at = time.monotonic()
            message = email.message_from_bytes(envelope.content)
            text = " ".join(
                part.get_payload(decode=True).decode(errors="replace")
                for part in message.walk()
                if part.get_content_type() == "text/plain"
            )
            for vid in list(published):
                if f"source id: {vid}" in text:
                    received.setdefault(vid, at)
            return "250 OK"

    published: dict[str, float] = {}
    controller = EphemeralPortController(Recorder())
    controller.start()
    name, url = _fresh_database()
    rng = random.Random(args.seed)
    stop = threading.Event()
    try:
        with serve_in_background(sources=flow.hpd_sources()) as server, psycopg.connect(url, autocommit=True) as conn:
            run_serial(url, SocrataSource(server.url), RunOptions(datasets=["hpd_violations"], incremental=False))
            template = flow.an_open_violation(server.url)
            flow.watch(conn, template["bbl"], "owner@example.com", "http://127.0.0.1:9/unused")
            conn.execute('UPDATE alert_rules SET channels = \'[{"kind": "email", "target": "o@example.com"}]\'')
            cron = "* * * * *" if args.interval == 60 else f"* * * * * */{args.interval}"
            job = JobSpec(
                name="ingest", cron=cron, kind="ingest", options={"engine": "serial", "datasets": ["hpd_violations"]}
            )
            channels = ChannelSettings(
                enabled=frozenset({"email", "console"}), smtp=SmtpSettings(host="127.0.0.1", port=controller.port)
            )
            runners = default_runners(LocalAlerts(url, channels), ingest_with(url, server.url, None))
            core = ScheduleCore(url, ScheduleConfig(jobs=(job,)), runners)
            core.tick()  # the first firing absorbs the start; changes begin afterwards
            thread = threading.Thread(target=core.run_until, args=(stop,), daemon=True)
            thread.start()
            today = datetime.now(UTC).date()
            for i in range(args.changes):
                time.sleep(rng.uniform(0, 2 * args.spacing))  # publication moments: random, seeded
                vid = str(98_000_000 + i)
                row = flow.new_class_c(template, vid, today + timedelta(days=20))
                published[vid] = time.monotonic()
                server.apply_changes(flow.changes([row]))
            deadline = time.monotonic() + 4 * args.interval + 120
            while len(received) < len(published) and time.monotonic() < deadline:
                time.sleep(0.2)
    finally:
        stop.set()
        controller.stop()
        drop_database(LOCAL_PG, name)
    latencies = sorted(received[v] - published[v] for v in received)
    missing = len(published) - len(received)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))] if latencies else float("nan")
    print(
        f"interval {args.interval}s, {len(published)} changes, {missing} not received: "
        f"p50 {statistics.median(latencies):.1f}s, p95 {p95:.1f}s, max {latencies[-1]:.1f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--rules", type=int, default=10_000)
    t.add_argument("--changes", type=int, default=100_000)
    t.add_argument("--orgs", type=int, default=200)
    t.add_argument("--per-org", type=int, default=500)
    t.add_argument("--seed", type=int, default=7)
    t.set_defaults(func=throughput)
    lat = sub.add_parser("latency")
    lat.add_argument("--interval", type=int, default=60, help="ingestion interval, seconds (60 or a divisor of 60)")
    lat.add_argument("--changes", type=int, default=20)
    lat.add_argument("--spacing", type=float, default=15.0, help="mean seconds between published changes")
    lat.add_argument("--seed", type=int, default=7)
    lat.set_defaults(func=latency)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
