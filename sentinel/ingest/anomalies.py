"""Source anomalies: deletions a guard held back, recorded and told to the admins.

The notice goes through the notification outbox (sentinel/alerts/outbox.py) as an email to every active admin
of every organization: a row with its own payload and no alert, which the notifier delivers like any other.
"""

from __future__ import annotations

import logging

import orjson
import psycopg

from sentinel.ingest.pipeline import Anomaly

log = logging.getLogger(__name__)

PRODUCT = "ViolationSentinel"


def record(conn: psycopg.Connection, run_id: int, dataset: str, anomaly: Anomaly) -> int:
    """Stores the anomaly and queues one email per active admin; returns the notices queued."""
    subject = f"[{PRODUCT}] source anomaly: {dataset} ({anomaly.kind.replace('_', ' ')})"
    text = (
        f"Ingestion run {run_id}, dataset {dataset}: {anomaly.detail}.\n"
        f"Live records: {anomaly.live_records:,}; records at the source: {anomaly.source_records:,}; "
        f"deletions held back: {anomaly.would_delete:,}.\n"
        "The run is marked partial. If the source really removed these records, raise "
        "VS_INGEST_MAX_DELETE_SHARE for one run; otherwise nothing needs doing."
    )
    payload = orjson.dumps({"subject": subject, "text": text, "html": f"<pre>{_escape(text)}</pre>"}).decode()
    with conn.transaction():
        conn.execute(
            "INSERT INTO source_anomalies (run_id, dataset, kind, live_records, source_records, would_delete, detail) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (run_id, dataset, anomaly.kind, anomaly.live_records, anomaly.source_records, anomaly.would_delete,
             anomaly.detail),
        )  # fmt: skip
        cur = conn.execute(
            "INSERT INTO notifications (org_id, channel, target, payload) "
            "SELECT org_id, 'email', email, %s::jsonb FROM users WHERE role = 'admin' AND is_active",
            (payload,),
        )
        queued = max(cur.rowcount, 0)
    log.error(
        "source anomaly: deletions held back",
        extra={"dataset": dataset, "run_id": run_id, "kind": anomaly.kind, "detail": anomaly.detail, "admins": queued},
    )
    return queued


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
