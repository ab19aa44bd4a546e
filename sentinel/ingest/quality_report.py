"""What a run's data looked like: the field problems, rejects and held-back deletions it recorded, read back
from `ingestion_runs.stats`, `source_anomalies` and the rows' `quality` column (`vsentinel quality`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row


@dataclass(slots=True)
class QualityReport:
    run_id: int
    status: str
    started_at: Any
    error: str | None
    # (dataset, field, reason, rows) for field problems; (dataset, reason, records) for rejects
    problems: list[tuple[str, str, str, int]] = field(default_factory=list)
    rejects: list[tuple[str, str, int]] = field(default_factory=list)
    duplicates: list[tuple[str, int]] = field(default_factory=list)
    located: list[tuple[str, str, int]] = field(default_factory=list)
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)  # a few stored rows with their problems


def run_report(conn: psycopg.Connection, run_id: int | None = None, *, examples: int = 5) -> QualityReport | None:
    """The report of one run (default: the latest finished one); None if there is none."""
    with conn.cursor(row_factory=dict_row) as cur:
        if run_id is None:
            cur.execute(
                "SELECT id, status, started_at, error, stats FROM ingestion_runs WHERE status <> 'running' "
                "ORDER BY id DESC LIMIT 1"
            )
        else:
            cur.execute("SELECT id, status, started_at, error, stats FROM ingestion_runs WHERE id = %s", (run_id,))
        run = cur.fetchone()
        if run is None:
            return None
        report = QualityReport(run["id"], run["status"], run["started_at"], run["error"])
        for dataset, summary in sorted((run["stats"] or {}).items()):
            for name, reasons in sorted((summary.get("quality") or {}).items()):
                for reason, n in sorted(reasons.items(), key=lambda item: -item[1]):
                    report.problems.append((dataset, name, reason, n))
            for reason, n in sorted((summary.get("reject_reasons") or {}).items(), key=lambda item: -item[1]):
                report.rejects.append((dataset, reason, n))
            if summary.get("duplicates"):
                report.duplicates.append((dataset, summary["duplicates"]))
            for how, n in sorted((summary.get("located") or {}).items()):
                report.located.append((dataset, how, n))
        cur.execute(
            "SELECT dataset, kind, live_records, source_records, would_delete, detail FROM source_anomalies "
            "WHERE run_id = %s ORDER BY id",
            (report.run_id,),
        )
        report.anomalies = cur.fetchall()
        if examples:
            cur.execute(
                "(SELECT 'violations' AS kind, source, source_id, bbl, quality FROM violations "
                " WHERE last_run_id = %(run)s AND quality IS NOT NULL ORDER BY id LIMIT %(n)s) UNION ALL "
                "(SELECT 'complaints', source, source_id, bbl, quality FROM complaints "
                " WHERE last_run_id = %(run)s AND quality IS NOT NULL ORDER BY id LIMIT %(n)s)",
                {"run": report.run_id, "n": examples},
            )
            report.examples = cur.fetchall()
    return report
