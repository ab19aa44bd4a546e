"""Backup and restore time of a database of 1M violations (not a pytest test).

    PYTHONPATH=. .venv/bin/python benchmarks/backup.py [--violations 1000000] [--jobs 1 --jobs 2] [--s3]

The database is built by SQL, not by an ingestion: `--violations` rows generated server-side (INSERT .. SELECT over
generate_series), each with a real HPD violation record from ../shared/realdata (its 41 fields as the API names
them, cycled with a unique violationid) as its raw record, canonical columns (BBL over 50k properties, class,
status, dates, penalties) varied by row number, plus a fifth as many complaints. Then `run_backup` (pg_dump -Fc +
manifest) to a local directory, or with `--s3` to moto's S3 server on an ephemeral port, and `run_restore` into a
new empty database once per `--jobs` value (1: one transaction; N: pg_restore workers), each checked to hold the
same rows (count and md5 of the content hashes in id order). Prints JSON. Needs PostgreSQL on 127.0.0.1:5432
(scratch databases are created and dropped).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.types.json import Json

from sentinel.backup.create import run_backup
from sentinel.backup.restore import run_restore
from sentinel.backup.settings import BackupSettings
from sentinel.backup.stores import open_store
from tests.conftest import LOCAL_PG, database_with_roles, drop_database, free_port, migrated_database

REALDATA = Path(__file__).resolve().parent.parent.parent / "shared" / "realdata"
HPD_CSV = REALDATA / "hpd_violations" / "nycdb" / "hpd_violations.csv"


def templates() -> list[dict[str, str]]:
    with HPD_CSV.open(newline="", encoding="utf-8") as handle:
        return [{k.lower(): v for k, v in row.items() if v} for row in csv.DictReader(handle)]


def build(url: str, violations: int) -> dict[str, float]:
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TEMP TABLE t (i int PRIMARY KEY, raw jsonb)")
        rows = templates()
        with conn.cursor().copy("COPY t (i, raw) FROM STDIN") as copy:
            for i, row in enumerate(rows):
                copy.write_row((i, Json(row)))
        conn.execute(
            """INSERT INTO properties (bbl, borough, block, lot, address, zip, units_res, year_built, raw)
               SELECT lpad((1 + p % 5)::text, 1) || lpad((p / 100)::text, 5, '0') || lpad((p % 100)::text, 4, '0'),
                      1 + p % 5, p / 100, p % 100, p || ' BENCHMARK AVENUE', '10001', 1 + p % 40, 1900 + p % 120,
                      '{}'::json
               FROM generate_series(0, 49999) p"""
        )
        conn.execute(
            """INSERT INTO violations (source, source_id, bbl, borough, class, severity, status, issued_date,
                   status_date, certify_by_date, penalty_imposed, amount_paid, balance_due, source_updated_at,
                   raw, content_hash)
               SELECT 'HPD', (20000000 + n)::text,
                      lpad((1 + p %% 5)::text, 1) || lpad((p / 100)::text, 5, '0') || lpad((p %% 100)::text, 4, '0'),
                      1 + p %% 5, (ARRAY['A','B','C','I'])[1 + n %% 4],
                      (ARRAY['non_hazardous','hazardous','immediately_hazardous','info'])[1 + n %% 4],
                      CASE WHEN n %% 3 = 0 THEN 'open' ELSE 'closed' END,
                      date '2015-01-01' + (n %% 4000), date '2015-01-01' + (n %% 4000) + 30,
                      date '2015-01-01' + (n %% 4000) + 90,
                      CASE WHEN n %% 10 = 0 THEN (n %% 5000)::numeric END,
                      CASE WHEN n %% 20 = 0 THEN (n %% 2500)::numeric END,
                      CASE WHEN n %% 10 = 0 THEN (n %% 2500)::numeric END,
                      timestamptz '2020-01-01' + n * interval '1 minute',
                      (t.raw || jsonb_build_object('violationid', (20000000 + n)::text))::json,
                      md5(n::text)
               FROM generate_series(0, %s - 1) n
               CROSS JOIN LATERAL (SELECT n %% 50000 AS p) b
               JOIN t ON t.i = n %% (SELECT count(*) FROM t)""",
            (violations,),
        )
        conn.execute(
            """INSERT INTO complaints (source, source_id, bbl, borough, category, status, received_date, raw,
                   content_hash)
               SELECT '311', (50000000 + n)::text,
                      lpad((1 + n %% 5)::text, 1) || lpad(((n %% 50000) / 100)::text, 5, '0')
                          || lpad((n %% 100)::text, 4, '0'),
                      1 + n %% 5, 'HEAT/HOT WATER', CASE WHEN n %% 4 = 0 THEN 'open' ELSE 'closed' END,
                      date '2018-01-01' + (n %% 2500), json_build_object('unique_key', (50000000 + n)::text),
                      md5('c' || n)
               FROM generate_series(0, %s - 1) n""",
            (violations // 5,),
        )
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return {"build_s": round(time.perf_counter() - started, 1), "database_mb": round(size / 2**20)}


def fingerprint(url: str) -> tuple[int, str]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*), md5(string_agg(content_hash, '' ORDER BY id)) FROM violations").fetchone()
    return int(row[0]), str(row[1])


def moto_settings() -> tuple[BackupSettings, object]:
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    settings = BackupSettings(
        s3_endpoint_url=f"http://127.0.0.1:{port}", s3_region="us-east-1", s3_access_key_id="b",
        s3_secret_access_key="b",
    )  # fmt: skip
    boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name="us-east-1",
                 aws_access_key_id="b", aws_secret_access_key="b").create_bucket(Bucket="bench")  # fmt: skip
    return settings, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--violations", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, action="append")
    parser.add_argument("--s3", action="store_true", help="Back up to a local S3-compatible server (moto).")
    args = parser.parse_args()
    out: dict[str, object] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.node(),
        "cpus": os.cpu_count(), "load_average_start": os.getloadavg(), "violations": args.violations,
    }  # fmt: skip
    name, owner_url, _ = migrated_database(LOCAL_PG, prefix="vs_bench_bk")
    server = None
    try:
        out.update(build(owner_url, args.violations))
        expected = fingerprint(owner_url)
        with tempfile.TemporaryDirectory(prefix="vs-bench-backup-") as tmp:
            if args.s3:
                settings, server = moto_settings()
                store = open_store("s3://bench/nightly", settings)
            else:
                settings = BackupSettings()
                store = open_store(str(Path(tmp) / "backups"), settings)
            started = time.perf_counter()
            backup = run_backup(owner_url, Path(tmp) / "models", store, settings, prune=False).manifest
            out["backup_s"] = round(time.perf_counter() - started, 1)
            out["dump_mb"] = round(backup.size / 2**20)
            out["destination"] = "s3 (moto)" if args.s3 else "local directory"
            for jobs in args.jobs or [1]:
                target, target_owner, target_app = database_with_roles(LOCAL_PG, prefix="vs_bench_rs")
                try:
                    started = time.perf_counter()
                    result = run_restore(
                        store, backup.id, target_owner, target_app, Path(tmp) / f"models-{jobs}",
                        settings.model_copy(update={"restore_jobs": jobs}),
                    )  # fmt: skip
                    out[f"restore_jobs{jobs}_s"] = round(time.perf_counter() - started, 1)
                    out[f"restore_jobs{jobs}_steps_s"] = result.timings_s
                    out[f"restore_jobs{jobs}_same_rows"] = fingerprint(target_owner) == expected
                finally:
                    drop_database(LOCAL_PG, target)
    finally:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
        drop_database(LOCAL_PG, name)
    out["load_average_end"] = os.getloadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
