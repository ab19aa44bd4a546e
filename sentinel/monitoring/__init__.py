"""Monitoring: the operating figures read from PostgreSQL and Redis (figures.py), their Prometheus exposition
(collector.py, served by `vsentinel exporter`) and the Grafana dashboards built from one description
(dashboards.py). Ray-free: the Ray side (API latency, the gateway's pool) records through `ray.util.metrics`."""
