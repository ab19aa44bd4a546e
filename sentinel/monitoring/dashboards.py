"""The Grafana dashboards, described once here and written as JSON to configs/monitoring/grafana/dashboards/
(`python -m sentinel.monitoring.dashboards`). A test checks that the committed files match this description and
that every metric a panel queries is exported, so the dashboards cannot silently drift from the metrics.

Panels query a `datasource` variable (any Prometheus), so the files import into any Grafana and provision as they
are (configs/monitoring/grafana/provisioning/).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parents[2] / "configs" / "monitoring" / "grafana" / "dashboards"
WIDTH, HEIGHT = 12, 8  # Grafana's grid is 24 wide: two panels a row


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    queries: tuple[tuple[str, str], ...]  # (PromQL, legend)
    unit: str = "short"
    kind: str = "timeseries"  # or "stat", "table"
    description: str = ""


@dataclass(frozen=True, slots=True)
class Dashboard:
    uid: str
    title: str
    panels: tuple[Panel, ...]


_5XX = 'sum by (route) (rate(ray_vs_api_requests_total{status=~"5.."}[5m]))'

API = Dashboard(
    "vs-api",
    "ViolationSentinel / API",
    (
        Panel(
            "Requests per second by route",
            (("sum by (route) (rate(ray_vs_api_requests_total[5m]))", "{{route}}"),),
            "reqps",
        ),
        Panel(
            "Server error rate by route (alert: over 1 % overall)",
            ((f"{_5XX} / sum by (route) (rate(ray_vs_api_requests_total[5m]))", "{{route}}"),),
            "percentunit",
        ),
        Panel(
            "p95 latency by route (alert: over 1 s overall)",
            (
                (
                    "histogram_quantile(0.95, sum by (le, route) (rate(ray_vs_api_request_seconds_bucket[5m])))",
                    "{{route}}",
                ),
            ),
            "s",
        ),
        Panel(
            "p50 latency by route",
            (
                (
                    "histogram_quantile(0.5, sum by (le, route) (rate(ray_vs_api_request_seconds_bucket[5m])))",
                    "{{route}}",
                ),
            ),
            "s",
        ),
        Panel(
            "Responses per second by status",
            (("sum by (status) (rate(ray_vs_api_requests_total[5m]))", "{{status}}"),),
            "reqps",
        ),
        Panel(
            "Requests refused by rate limits",
            (("sum by (bucket) (rate(ray_vs_api_rate_limited_total[5m]))", "{{bucket}}"),),
            "reqps",
        ),
        Panel(
            "Cache hit ratio",
            (
                (
                    'sum by (kind) (rate(ray_vs_api_cache_total{result="hit"}[5m]))'
                    " / sum by (kind) (rate(ray_vs_api_cache_total[5m]))",
                    "{{kind}}",
                ),
            ),
            "percentunit",
        ),
        Panel(
            "Scorer batch size (median)",
            (("histogram_quantile(0.5, sum by (le) (rate(ray_vs_scorer_batch_size_bucket[5m])))", "buildings"),),
        ),
    ),
)

INGESTION = Dashboard(
    "vs-ingestion",
    "ViolationSentinel / Ingestion",
    (
        Panel(
            "Lag per dataset: time since the source's newest :updated_at (alert: 36 h, PLUTO 200 days)",
            (("vs_ingest_lag_seconds", "{{dataset}}"),),
            "s",
        ),
        Panel(
            "Time since the last successful run per dataset",
            (("time() - vs_ingest_last_success_timestamp_seconds", "{{dataset}}"),),
            "s",
        ),
        Panel(
            "Rows written in the last 24 h (inserted + updated)",
            (('sum by (dataset) (vs_ingest_rows_last_day{outcome=~"inserted|updated"})', "{{dataset}}"),),
        ),
        Panel(
            "Rejected records in the last 24 h",
            (('vs_ingest_rows_last_day{outcome="rejected"}', "{{dataset}}"),),
        ),
        Panel(
            "Last run per dataset",
            (("vs_ingest_last_run_status == 1", "{{dataset}}: {{status}}"),),
            kind="table",
            description="Each dataset's last run: succeeded, partial (deletions held back), failed, never",
        ),
        Panel("Rows of the last run", (("vs_ingest_last_run_rows", "{{dataset}} {{outcome}}"),), kind="table"),
        Panel("Records kept in rejects", (("vs_ingest_rejects", "{{dataset}}"),)),
    ),
)

OUTBOX = Dashboard(
    "vs-outbox",
    "ViolationSentinel / Alerts and outbox",
    (
        Panel("Notifications by status", (("vs_outbox_notifications", "{{status}}"),)),
        Panel(
            "Oldest due notification waiting (alert: 15 min)",
            (("vs_outbox_oldest_due_seconds", "waiting"),),
            "s",
        ),
        Panel(
            "Delivery latency of immediate notifications (last hour)",
            (("vs_outbox_delivery_latency_seconds", "q{{quantile}}"),),
            "s",
        ),
        Panel("Delivered in the last hour", (("vs_outbox_delivered_last_hour", "sent"),)),
        Panel(
            "Notifications given up (dead) per hour",
            (('delta(vs_outbox_notifications{status="dead"}[1h])', "dead"),),
        ),
        Panel(
            "Alerts created",
            (("increase(vs_alerts_created_total[1h])", "per hour"), ("vs_alerts_today", "today")),
        ),
    ),
)

SCHEDULER = Dashboard(
    "vs-scheduler",
    "ViolationSentinel / Scheduler",
    (
        Panel(
            "Last outcome per job",
            (("vs_scheduler_last_outcome == 1", "{{task}}: {{outcome}}"),),
            kind="table",
        ),
        Panel(
            "Time since the last success per job",
            (("time() - vs_scheduler_last_success_timestamp_seconds", "{{task}}"),),
            "s",
        ),
        Panel(
            "Failed firings in the last 24 h",
            (('vs_scheduler_runs_last_day{outcome="failed"}', "{{task}}"),),
        ),
        Panel("Current firing running for", (("vs_scheduler_running_seconds", "{{task}}"),), "s"),
        Panel("Interval between due times", (("vs_scheduler_interval_seconds", "{{task}}"),), "s", kind="table"),
    ),
)

SCORES = Dashboard(
    "vs-scores",
    "ViolationSentinel / Risk scores",
    (
        Panel("Buildings scored for the newest day", (("vs_scores_buildings", "buildings"),)),
        Panel("Age of the newest score (alert: 36 h)", (("vs_scores_age_seconds", "age"),), "s"),
        Panel("Active models", (("vs_models_active", "{{score_kind}} {{version}}"),), kind="table"),
    ),
)

DATABASE = Dashboard(
    "vs-database",
    "ViolationSentinel / Database pool",
    (
        Panel(
            "PostgreSQL connections (alert: 90 % of usable)",
            (("vs_db_connections", "in use"), ("vs_db_usable_connections", "usable")),
        ),
        Panel(
            "Pool connections in use per pool",
            (
                ("sum by (pool) (ray_vs_db_pool_size - ray_vs_db_pool_available)", "{{pool}} in use"),
                ("sum by (pool) (ray_vs_db_pool_max)", "{{pool}} max"),
            ),
        ),
        Panel(
            "Requests waiting for a connection (alert: waiting with none idle for 2 min)",
            (("sum by (pool) (ray_vs_db_pool_requests_waiting)", "{{pool}}"),),
        ),
        Panel("Exporter: database reachable", (("vs_db_up", "up"),), kind="stat"),
        Panel("Exporter scrape time", (("vs_exporter_scrape_seconds", "scrape"),), "s"),
    ),
)

REDIS = Dashboard(
    "vs-redis",
    "ViolationSentinel / Redis",
    (
        Panel("Redis reachable", (("vs_redis_up", "up"),), kind="stat"),
        Panel(
            "Clients",
            (("vs_redis_connected_clients", "connected"), ("vs_redis_maxclients", "max")),
        ),
        Panel(
            "Memory",
            (("vs_redis_used_memory_bytes", "used"), ("vs_redis_maxmemory_bytes", "limit (0: none)")),
            "bytes",
        ),
        Panel(
            "Keyspace hit ratio",
            (
                (
                    "rate(vs_redis_keyspace_hits_total[5m])"
                    " / (rate(vs_redis_keyspace_hits_total[5m]) + rate(vs_redis_keyspace_misses_total[5m]))",
                    "hits",
                ),
            ),
            "percentunit",
        ),
        Panel(
            "Evictions and refused connections per second",
            (
                ("rate(vs_redis_evicted_keys_total[5m])", "evicted keys"),
                ("rate(vs_redis_rejected_connections_total[5m])", "refused connections"),
            ),
        ),
    ),
)

DASHBOARDS = (API, INGESTION, OUTBOX, SCHEDULER, SCORES, DATABASE, REDIS)


def grafana_json(dashboard: Dashboard) -> dict[str, Any]:
    source = {"type": "prometheus", "uid": "${datasource}"}
    panels = []
    for i, panel in enumerate(dashboard.panels):
        panels.append(
            {
                "id": i + 1,
                "type": panel.kind,
                "title": panel.title,
                "description": panel.description,
                "datasource": source,
                "gridPos": {"x": (i % 2) * WIDTH, "y": (i // 2) * HEIGHT, "w": WIDTH, "h": HEIGHT},
                "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [
                    {
                        "refId": chr(ord("A") + n),
                        "datasource": source,
                        "expr": expr,
                        "legendFormat": legend,
                        **({"instant": True, "format": "table"} if panel.kind == "table" else {}),
                    }
                    for n, (expr, legend) in enumerate(panel.queries)
                ],
            }
        )
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "tags": ["violationsentinel"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [{"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus"}]
        },
        "panels": panels,
    }


def rendered() -> dict[str, str]:
    """File name -> JSON text, as committed."""
    return {
        f"{d.uid.removeprefix('vs-')}.json": json.dumps(grafana_json(d), indent=2, ensure_ascii=False) + "\n"
        for d in DASHBOARDS
    }


def write(out_dir: Path = OUT_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in rendered().items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR):
        print(written)
