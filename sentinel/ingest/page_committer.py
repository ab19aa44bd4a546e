"""A pipeline's writes: a page committed (its rows, rejects and watermark in one transaction) and a partition
finished, on one PostgreSQL connection per calling thread. The Ray writer actor (actors/writer.py) and the local
engine's writer threads (sentinel/ingest/local_engine.py) both commit through it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg

from sentinel.ingest import pipeline
from sentinel.ingest.copy_batch import CopyBatch
from sentinel.ingest.pages import PageMeta
from sentinel.ingest.pipeline import PartitionTask
from sentinel.ingest.socrata import Cursor
from sentinel.ingest.writer import WriteStats


class PageCommitter:
    """Thread-safe: each thread commits on its own connection. Nothing here orders a partition's pages: the
    caller sends a partition's next page only after the one before it committed."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._local = threading.local()
        self._opened: list[psycopg.Connection] = []
        self._lock = threading.Lock()

    def _open(self) -> psycopg.Connection:
        conn = psycopg.connect(self._database_url, autocommit=True, application_name="vsentinel-ingest-writer")
        with self._lock:
            self._opened.append(conn)
        return conn

    def _run(self, step: Callable[[psycopg.Connection], Any]) -> Any:
        """Runs one transactional step; a connection the server dropped is replaced and the step retried once
        (safe: the step's transaction rolled back, and a page whose predecessor moved on is refused)."""
        conn: psycopg.Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = self._local.conn = self._open()
        try:
            return step(conn)
        except psycopg.OperationalError:
            conn.close()
            conn = self._local.conn = self._open()
            return step(conn)

    def commit(
        self,
        batch: CopyBatch,
        task: PartitionTask,
        read_after: Cursor | None,
        meta: PageMeta,
        rows_committed: int,
        run_id: int,
    ) -> WriteStats:
        assert meta.last_row is not None
        last_row = meta.last_row
        return self._run(
            lambda conn: pipeline.commit_page(
                conn,
                batch,
                task=task,
                read_after=read_after,
                last_row=last_row,
                max_updated_at=meta.max_updated_at,
                rows_committed=rows_committed,
                run_id=run_id,
            )
        )

    def finish_partition(self, task: PartitionTask, run_id: int) -> None:
        self._run(lambda conn: pipeline.finish_partition(conn, task, run_id))

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
