"""The alert rules, the scrape config and the dashboards load, and every metric they use is really exported: the
names come from scraping a running `vsentinel exporter` and Ray's metrics endpoint after the Serve gateway
answered traffic, not from a list kept by hand. promtool is not installed here; promql-parser parses the PromQL."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from sentinel.monitoring import dashboards
from sentinel.monitoring.collector import DEFAULT_PORT
from tests.api import seed as api_seed
from tests.conftest import REPO_ROOT, free_port
from tests.monitoring import promql

MONITORING = REPO_ROOT / "configs" / "monitoring"
RULES = MONITORING / "alerts.yml"
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
RULE_KEYS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    return [expr for d in dashboards.DASHBOARDS for panel in d.panels for expr, _ in panel.queries]


def used_metrics() -> set[str]:
    exprs = [rule["expr"] for rule in rules()] + dashboard_queries()
    return set().union(*(promql.metric_names(e) for e in exprs)) - promql.PROMETHEUS_MADE


def readme_anchors() -> set[str]:
    """GitHub's anchors of README.md's headings: lower case, punctuation dropped, spaces as dashes."""
    headings = re.findall(r"^#+\s+(.+)$", (REPO_ROOT / "README.md").read_text(encoding="utf-8"), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_the_rule_file_is_well_formed() -> None:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    names = [group["name"] for group in doc["groups"]]
    assert len(names) == len(set(names)), "group names must be unique"
    anchors = readme_anchors()
    for rule in rules():
        assert set(rule) <= RULE_KEYS and {"alert", "expr"} <= set(rule), rule
        assert re.fullmatch(r"[A-Z][A-Za-z]+", rule["alert"]), rule["alert"]
        assert DURATION.match(rule.get("for", "0s")), rule
        assert rule["labels"]["severity"] in ("page", "ticket"), rule
        assert rule["annotations"]["summary"], rule
        anchor = rule["annotations"]["runbook"].removeprefix("README.md#")
        assert anchor in anchors, f"{rule['alert']}: README.md has no heading for #{anchor}"


def test_every_expression_parses() -> None:
    for expr in [rule["expr"] for rule in rules()] + dashboard_queries():
        promql.parse(expr)  # raises ValueError with the parser's message


def test_a_broken_expression_or_a_nameless_selector_is_caught() -> None:
    with pytest.raises(ValueError, match="parenthesis"):
        promql.parse("sum(rate(vs_ingest_rejects[5m])")
    with pytest.raises(ValueError, match="without a metric name"):
        promql.metric_names('{dataset="pluto"}')


def test_the_briefs_thresholds_and_the_operational_alerts_are_there() -> None:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for rule in rules():
        by_name.setdefault(rule["alert"], []).append(rule)

    def only(name: str) -> dict[str, Any]:
        assert len(by_name.get(name, [])) == 1, f"expected one {name} rule"
        return by_name[name][0]

    errors = only("ApiErrorRateHigh")
    assert promql.comparisons(errors["expr"]) == [(">", 0.01)]
    assert 'status=~"5.."' in errors["expr"]
    latency = only("ApiLatencyHigh")
    assert promql.comparisons(latency["expr"]) == [(">", 1.0)]
    assert latency["expr"].strip().startswith("histogram_quantile(0.95,")
    assert promql.metric_names(only("BackgroundJobFailed")["expr"]) == {"vs_scheduler_last_outcome"}
    assert promql.metric_names(only("DatabaseConnectionsExhausted")["expr"]) == {
        "vs_db_connections",
        "vs_db_usable_connections",
    }
    assert "ray_vs_db_pool_requests_waiting" in promql.metric_names(only("DatabasePoolExhausted")["expr"])
    assert all("vs_ingest_lag_seconds" in promql.metric_names(r["expr"]) for r in by_name["SourceLate"])
    assert promql.comparisons(only("OutboxStuck")["expr"]) == [(">", 900.0)]


def test_prometheus_scrapes_ray_and_the_exporter_and_loads_the_rules() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text(encoding="utf-8"))
    assert all((MONITORING / path).is_file() for path in config["rule_files"])
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"ray", "vsentinel"}
    (discovery,) = jobs["ray"]["file_sd_configs"][0]["files"]
    assert discovery.endswith("/prom_metrics_service_discovery.json")  # the file Ray's head keeps current
    (target,) = jobs["vsentinel"]["static_configs"][0]["targets"]
    assert target.endswith(f":{DEFAULT_PORT}")


def test_the_committed_dashboards_are_the_described_ones() -> None:
    committed = {p.name: p.read_text(encoding="utf-8") for p in (MONITORING / "grafana" / "dashboards").glob("*.json")}
    assert committed == dashboards.rendered(), "run `python -m sentinel.monitoring.dashboards` and commit"
    uids = [json.loads(text)["uid"] for text in committed.values()]
    assert len(uids) == len(set(uids)) == 7


# --- every metric used is exported ---------------------------------------------------------------------------


def scrape_names(url: str) -> set[str]:
    text = httpx.get(url, timeout=60).text
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


@contextlib.contextmanager
def running_exporter(database_url: str, redis_url: str, data_dir: Path) -> Iterator[str]:
    """`vsentinel exporter` as an operator runs it, in its own process."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VS_")}
    env.update({"VS_DATABASE_URL": database_url, "VS_REDIS_URL": redis_url, "VS_DATA_DIR": str(data_dir)})
    process = subprocess.Popen(
        [sys.executable, "-m", "cluster.cli", "exporter", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=30).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read() if process.stdout else ""
                raise AssertionError(f"the exporter did not start: {output}")
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0


UNSCORED = "3000020002"  # a building with no stored score: the gateway asks the scorer deployment


def serve_traffic(base: str, email: str) -> None:
    """Requests that make every API metric appear: a login, a stored score read (score cache), a score computed
    by the scorer (batch size), a property page, a 404, and wrong logins until the login rate limit refuses one."""
    with httpx.Client(base_url=base, timeout=60) as client:
        deadline = time.monotonic() + 120
        while client.get("/healthz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        login = client.post("/v1/auth/token", data={"username": email, "password": api_seed.PASSWORD})
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        assert client.get("/v1/properties/1000010001/risk").status_code == 200
        deadline = time.monotonic() + 120  # the scorer replica may still be loading its model
        while client.get(f"/v1/properties/{UNSCORED}/risk").status_code != 200:
            assert time.monotonic() < deadline, "the scorer never answered"
            time.sleep(0.5)
        client.get("/v1/properties/1000010001")
        assert client.get("/v1/no-such-route").status_code == 404
        refused = [client.post("/v1/auth/token", data={"username": email, "password": "wrong"}) for _ in range(8)]
        assert any(r.status_code == 429 for r in refused)


def ray_metrics_url() -> str:
    import ray

    node = next(n for n in ray.nodes() if n["Alive"])
    return f"http://127.0.0.1:{node['MetricsExportPort']}/metrics"


@pytest.mark.integration
def test_every_metric_the_rules_and_dashboards_use_is_exported(
    monitored_db: str, redis_url: str, ray_cluster: object, tmp_path: Path
) -> None:
    from tests.api.servers import running_on_serve

    used = used_metrics()
    with running_exporter(monitored_db, redis_url, tmp_path) as url:
        exported = scrape_names(url)

    with psycopg.connect(monitored_db) as conn:
        api_seed.add_property(conn, UNSCORED, "7 QUIET LANE")
        _, emails = api_seed.add_org(conn, "watchers")
    api = {"redis_prefix": f"vsmon-{secrets.token_hex(4)}", "auth_rate_limit": "4/minute"}
    with running_on_serve(monitored_db, redis_url, secrets.token_urlsafe(48), pool_size=2, api=api) as base:
        serve_traffic(base, emails["viewer"])
        wanted = {name for name in used if name.startswith("ray_")}
        deadline = time.monotonic() + 120  # Ray's agent exports what the replicas recorded every few seconds
        while True:
            ray_names = scrape_names(ray_metrics_url())
            if wanted <= ray_names or time.monotonic() > deadline:
                break
            time.sleep(1)
    exported |= ray_names
    assert {"ray_vs_api_requests_total", "vs_ingest_lag_seconds", "vs_redis_up"} <= exported
    assert used - exported == set(), "used by configs/monitoring but not exported"


def test_vsentinel_status_uses_the_alert_rules_thresholds() -> None:
    from sentinel.monitoring import summary

    def thresholds(name: str) -> set[float]:
        return {value for rule in rules() if rule["alert"] == name for op, value in promql.comparisons(rule["expr"])}

    assert thresholds("SourceLate") == {summary.LATE_AFTER_SECONDS, summary.PLUTO_LATE_AFTER_SECONDS}
    assert thresholds("OutboxStuck") == {summary.OUTBOX_STUCK_SECONDS}
    assert thresholds("ScoresStale") == {summary.SCORES_STALE_SECONDS}
    assert thresholds("DatabaseConnectionsExhausted") == {summary.CONNECTIONS_SHARE}
