"""The replay store as one SQLite file per dataset in a folder, for a city too large for one file.

`DatasetStores` serves what a `ReplayStore` serves (the server, its queries and its changes call either), each
dataset from `<folder>/<dataset id>.sqlite`. What one file per dataset gives a run at the city's full size
(benchmarks/nyc_full.py): another process builds a dataset's file while the server serves the others, and a
dataset cut to stubs (`strip_rows`) goes into a new file that replaces its old one, so its disk comes back at
once. In one file, giving back the pages of a dataset in the file's middle moves every page after it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from citysim.replay.formats import Row, read_dataset_file
from citysim.replay.store import BUILD_COMMIT_ROWS, ReplayStore, Table, remove_database, row_id_seed

SUFFIX = ".sqlite"
META_FILE = "_meta" + SUFFIX  # what belongs to no one dataset (`pristine`, ...)


def dataset_file(folder: Path, dataset_id: str) -> Path:
    return Path(folder) / f"{dataset_id}{SUFFIX}"


def build_dataset_file(folder: Path, dataset_id: str, paths: Sequence[Path], timestamp: str) -> int:
    """A dataset's files into its own store file (in any process); returns its row count. Built under another
    name and renamed when done, so a file by the dataset's name is always whole."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    final = dataset_file(folder, dataset_id)
    building = final.with_name(final.name + ".building")
    remove_database(building)
    store = ReplayStore(building)
    try:
        store.connection().execute("PRAGMA synchronous = OFF")  # a crashed build is simply built again
        rows = store.load_dataset(
            dataset_id,
            (row for p in paths for row in read_dataset_file(p, dataset_id)),
            seed=",".join(map(row_id_seed, paths)),
            timestamp=timestamp,
            commit_rows=BUILD_COMMIT_ROWS,
        )
    except BaseException:
        store.close()
        remove_database(building)
        raise
    store.close()
    os.replace(building, final)
    return rows


class DatasetStores:
    """One `ReplayStore` per dataset, each its own file in `folder`; the files there are served when it opens,
    and `add` serves one built since (by `build_dataset_file`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._meta = ReplayStore(self.folder / META_FILE)
        self._stores: dict[str, ReplayStore] = {}
        self._lock = threading.Lock()
        for path in sorted(self.folder.glob(f"*{SUFFIX}")):
            if path.name != META_FILE:
                self.add(path.name.removesuffix(SUFFIX))

    def add(self, dataset_id: str) -> None:
        """Serves the dataset's file (again, if it was open: another process rebuilt it)."""
        with self._lock:
            old = self._stores.pop(dataset_id, None)
            if old is not None:
                old.close()
            store = ReplayStore(dataset_file(self.folder, dataset_id))
            if set(store.tables) - {dataset_id}:
                store.close()
                raise ValueError(f"{store.db_path} holds other datasets than {dataset_id}: {sorted(store.tables)}")
            self._stores[dataset_id] = store

    def store_for(self, dataset_id: str) -> ReplayStore:
        return self._stores[dataset_id]

    # --- what the server, its queries and its changes call (as on a ReplayStore) ---

    @property
    def tables(self) -> dict[str, Table]:
        return {ds: t for store in list(self._stores.values()) for ds, t in store.tables.items()}

    def dataset_connection(self, dataset_id: str, *, raw: bool = False) -> sqlite3.Connection:
        return self._stores[dataset_id].connection(raw=raw)

    def reload_tables(self) -> None:
        for store in list(self._stores.values()):
            store.reload_tables()

    def get_meta(self, key: str) -> str | None:
        return self._meta.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self._meta.set_meta(key, value)

    def ensure_table(self, dataset_id: str) -> Table:
        with self._lock:
            if dataset_id not in self._stores:
                self._stores[dataset_id] = ReplayStore(dataset_file(self.folder, dataset_id))
        return self._stores[dataset_id].ensure_table(dataset_id)

    def rows_updated_at(self, dataset_id: str) -> str | None:
        return self._stores[dataset_id].rows_updated_at(dataset_id)

    def rows_updated_epoch(self, dataset_id: str) -> int:
        return self._stores[dataset_id].rows_updated_epoch(dataset_id)

    def mark_published(self, dataset_id: str, at: str, before: int) -> int:
        return self._stores[dataset_id].mark_published(dataset_id, at, before)

    def next_timestamp(self, dataset_id: str, at: str | None = None) -> str:
        return self._stores[dataset_id].next_timestamp(dataset_id, at)

    def upsert(
        self, dataset_id: str, rows: Sequence[Row], at: str, *, mode: str = "upsert", first_index: int = 0
    ) -> dict[str, int]:
        self.ensure_table(dataset_id)
        return self._stores[dataset_id].upsert(dataset_id, rows, at, mode=mode, first_index=first_index)

    def delete(self, dataset_id: str, keys: Sequence[str]) -> int:
        return self._stores[dataset_id].delete(dataset_id, keys)

    def replace(self, dataset_id: str, rows: Iterable[Row], at: str) -> int:
        self.ensure_table(dataset_id)
        return self._stores[dataset_id].replace(dataset_id, rows, at)

    def strip_rows(self, dataset_id: str, keep: Iterable[str], updated_at: str, **options: int) -> int:
        """`ReplayStore.strip_rows`, into a new file (the dataset is its file's only one)."""
        return self._stores[dataset_id].strip_rows(dataset_id, keep, updated_at, **options)

    def close_thread_connections(self) -> None:
        for store in [self._meta, *list(self._stores.values())]:
            store.close_thread_connections()

    def close(self) -> None:
        with self._lock:
            for store in [self._meta, *self._stores.values()]:
                store.close()
            self._stores.clear()


AnyStore = ReplayStore | DatasetStores  # what the server serves
