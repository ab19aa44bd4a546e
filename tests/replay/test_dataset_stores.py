"""The replay store as one file per dataset: served like one file, built apart, stripped into a new file."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from citysim.replay.changes import apply_changes
from citysim.replay.dataset_stores import DatasetStores, build_dataset_file, dataset_file
from citysim.replay.formats import DataFileError
from citysim.replay.query import run_query
from citysim.replay.server import ReplayServer
from citysim.replay.store import ReplayStore, build_store, discover_sources
from tests.replay.conftest import sodapy_client

SR = "erm2-nwe9"  # 311: read with a row filter (agency) and by borough partitions
HPD = "wvxf-dwi5"
AT = "2024-12-30T14:50:00.000Z"
FILES = sorted(["_meta.sqlite", f"{SR}.sqlite", f"{HPD}.sqlite"])


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_bytes(b"[\n" + b",\n".join(orjson.dumps(r) for r in rows) + b"\n]\n")


def _rows(store, dataset_id: str, **params: str) -> list[dict[str, object]]:
    result = run_query(store, dataset_id, [(f"${k}", v) for k, v in params.items()])
    return orjson.loads(b"".join(result.chunks))


def _city(folder: Path) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    folder.mkdir()
    sr_rows = [
        {"unique_key": str(i), "descriptor": "x" * 900, "agency": "HPD" if i % 3 else "NYPD", "borough": "BROOKLYN"}
        for i in range(3000)
    ]
    hpd_rows = [{"violationid": str(i), "boroid": str(1 + i % 5), "novdescription": "y" * 900} for i in range(2000)]
    _write(folder / f"{SR}.json", sr_rows)
    _write(folder / f"{HPD}.json", hpd_rows)
    return sr_rows, hpd_rows


def _database_files(folder: Path) -> list[str]:
    """The folder's SQLite files, less the WAL and shared-memory files of those open."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm")))


def _one_file_per_dataset(city: Path, folder: Path) -> DatasetStores:
    for dataset_id, paths in discover_sources(city).items():
        assert build_dataset_file(folder, dataset_id, paths, AT) > 0
    return DatasetStores(folder)


def test_a_file_per_dataset_serves_and_changes_as_one_store_does(tmp_path: Path) -> None:
    _city(tmp_path / "city")
    one = build_store(discover_sources(tmp_path / "city"), tmp_path / "one.sqlite", owns_file=True)
    for dataset_id in (SR, HPD):  # the same snapshot stamp as the files' builds
        one.connection().execute(
            f'UPDATE "{one.tables[dataset_id].name}" SET __created_at = ?, __updated_at = ?', (AT, AT)
        )
    apart = _one_file_per_dataset(tmp_path / "city", tmp_path / "stores")
    try:
        assert _database_files(tmp_path / "stores") == FILES
        queries = [
            {"select": ":id,unique_key,agency", "where": "agency in ('HPD', 'DOB')", "order": ":id", "limit": "50"},
            {"select": "boroid, count(*) AS n", "group": "boroid", "order": "boroid"},
            {"select": ":id,violationid", "where": "boroid = '3'", "order": ":id", "offset": "100", "limit": "20"},
        ]
        for dataset_id, params in [(SR, queries[0]), (HPD, queries[1]), (HPD, queries[2])]:
            expected = _rows(one, dataset_id, **params)
            assert expected and _rows(apart, dataset_id, **params) == expected
        change = {
            "at": "2024-12-31T10:00:00.000Z",
            "datasets": {
                SR: {"upsert": [{"unique_key": "5", "descriptor": "changed", "agency": "DOB", "borough": "BRONX"}]},
                HPD: {"delete": ["7", "8"], "insert": [{"violationid": "9999", "boroid": "2", "novdescription": "x"}]},
            },
        }
        assert apply_changes(apart, change) == apply_changes(one, change)
        since = {"where": ":updated_at > '2024-12-31T00:00:00'", "order": ":id"}
        for dataset_id in (SR, HPD):
            changed = _rows(one, dataset_id, select=":id,:updated_at,*", **since)
            assert changed and _rows(apart, dataset_id, select=":id,:updated_at,*", **since) == changed
            count = _rows(one, dataset_id, select="count(*) AS n")
            assert _rows(apart, dataset_id, select="count(*) AS n") == count
        # A full replace (into a new file, for a file per dataset) gives the same rows and :ids.
        hpd_file = dataset_file(tmp_path / "stores", HPD)
        inode = hpd_file.stat().st_ino
        replaced = [{"violationid": str(i), "boroid": "4", "novdescription": "r"} for i in range(500)]
        replace = {"at": "2025-01-01T10:00:00.000Z", "datasets": {HPD: {"replace": replaced}}}
        assert apply_changes(apart, replace) == apply_changes(one, replace)
        assert hpd_file.stat().st_ino != inode
        every = {"select": ":id,:updated_at,*", "order": ":id", "limit": "5000"}
        assert len(_rows(one, HPD, **every)) == 500 and _rows(apart, HPD, **every) == _rows(one, HPD, **every)

        def cut_short():  # a replace whose rows fail to arrive whole: the old rows stay served
            yield from replaced[:100]
            raise DataFileError(tmp_path / "x.json", 101, "truncated")

        with pytest.raises(DataFileError):
            apart.replace(HPD, cut_short(), "2025-01-02T10:00:00.000Z")
        assert _rows(apart, HPD, **every) == _rows(one, HPD, **every)
        assert _database_files(tmp_path / "stores") == FILES
        # A dataset a change brings that no file held gets a file of its own.
        apply_changes(apart, {"datasets": {"3h2n-5cm9": {"insert": [{"isn_dob_bis_viol": "1", "bin": "100"}]}}})
        assert dataset_file(tmp_path / "stores", "3h2n-5cm9").exists()
        assert _rows(apart, "3h2n-5cm9", select="isn_dob_bis_viol") == [{"isn_dob_bis_viol": "1"}]
    finally:
        one.close()
        apart.close()


def test_a_client_reads_a_file_per_dataset_over_http(tmp_path: Path) -> None:
    _city(tmp_path / "city")
    apart = _one_file_per_dataset(tmp_path / "city", tmp_path / "stores")
    server = ReplayServer(apart).start()
    try:
        client = sodapy_client(server)
        got = client.get(HPD, where="boroid = '2'", order="violationid", limit=5000)
        assert sorted(int(r["violationid"]) for r in got) == [i for i in range(2000) if i % 5 == 1]
        assert client.get_metadata(SR)["id"] == SR
        client.close()
    finally:
        server.stop()


def test_a_strip_writes_a_new_file_and_gives_the_rows_disk_back_without_touching_other_datasets(
    tmp_path: Path,
) -> None:
    sr_rows, _ = _city(tmp_path / "city")
    apart = _one_file_per_dataset(tmp_path / "city", tmp_path / "stores")
    try:
        sr_file, hpd_file = dataset_file(apart.folder, SR), dataset_file(apart.folder, HPD)
        hpd_before = (hpd_file.stat().st_ino, hpd_file.stat().st_mtime_ns, hpd_file.read_bytes())
        where = "agency in ('HPD', 'DOB') AND borough = 'BROOKLYN'"
        before = _rows(apart, SR, select=":id,unique_key", where=where, limit="5000")
        size_before, inode_before = sr_file.stat().st_size, sr_file.stat().st_ino
        assert apart.strip_rows(SR, ["agency", "borough"], "2020-01-01T00:00:00.000Z", batch_rows=500) == 3000
        # The stubs replaced the file: the rows' bulk is gone from the disk at once, no vacuum step ran.
        assert sr_file.stat().st_ino != inode_before
        assert sr_file.stat().st_size < size_before - 0.7 * 3000 * 900
        assert _database_files(apart.folder) == FILES
        assert (hpd_file.stat().st_ino, hpd_file.stat().st_mtime_ns, hpd_file.read_bytes()) == hpd_before
        # What an incremental reader sees is unchanged: the key set, the partition filter, every :id.
        assert _rows(apart, SR, select=":id,unique_key", where=where, limit="5000") == before and len(before) == 2000
        assert _rows(apart, SR, select="count(*) AS n") == [{"n": "3000"}]
        assert _rows(apart, SR, where=f":updated_at > '{AT}'") == []
        # A change to a stripped row brings the whole row back, with its :id; the file reopened serves it.
        apart.upsert(SR, [{**sr_rows[7], "descriptor": "changed"}], "2026-12-01T00:00:00.000Z")
        apart.close()
        again = DatasetStores(tmp_path / "stores")
        (got,) = _rows(again, SR, select=":id,*", where=":updated_at > '2025-01-01T00:00:00'")
        ids = {r["unique_key"]: r[":id"] for r in before}
        assert list(got.items()) == [(":id", ids["7"]), *{**sr_rows[7], "descriptor": "changed"}.items()]
        again.close()
    finally:
        apart.close()


def test_a_strip_that_fails_leaves_the_dataset_whole_and_no_stray_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _city(tmp_path / "city")
    apart = _one_file_per_dataset(tmp_path / "city", tmp_path / "stores")
    try:
        whole = _rows(apart, SR, select=":id,*", order=":id", limit="5000")
        index_table = ReplayStore._index_table

        def disk_full_at_the_stubs_indexes(self, conn, table):  # the stubs' rows are written by then
            if self.db_path.name.endswith(".stubs"):
                raise OSError(28, "No space left on device")
            index_table(self, conn, table)

        monkeypatch.setattr(ReplayStore, "_index_table", disk_full_at_the_stubs_indexes)
        with pytest.raises(OSError, match="No space left"):
            apart.strip_rows(SR, ["agency"], "2020-01-01T00:00:00.000Z", batch_rows=500)
        assert _database_files(apart.folder) == FILES
        assert not list(apart.folder.glob("*.stubs*"))
        assert _rows(apart, SR, select=":id,*", order=":id", limit="5000") == whole
    finally:
        apart.close()


def test_a_build_that_fails_leaves_no_file_by_the_datasets_name(tmp_path: Path) -> None:
    (tmp_path / "city").mkdir()
    cut = tmp_path / "city" / f"{HPD}.json"
    cut.write_bytes(b'[\n{"violationid": "1"},\n{"violationid": "2", "boro')  # cut off mid-row
    with pytest.raises(DataFileError):
        build_dataset_file(tmp_path / "stores", HPD, [cut], AT)
    assert [p.name for p in (tmp_path / "stores").iterdir()] == []
    stores = DatasetStores(tmp_path / "stores")
    try:
        assert stores.tables == {}
    finally:
        stores.close()


def test_a_file_holding_other_datasets_is_refused(tmp_path: Path) -> None:
    _city(tmp_path / "city")
    (tmp_path / "stores").mkdir()
    build_store(discover_sources(tmp_path / "city"), dataset_file(tmp_path / "stores", HPD)).close()
    with pytest.raises(ValueError, match=f"holds other datasets than {HPD}"):
        DatasetStores(tmp_path / "stores")


def test_a_full_replace_and_an_upsert_give_their_wal_back(tmp_path: Path) -> None:
    sr_rows, _ = _city(tmp_path / "city")
    apart = _one_file_per_dataset(tmp_path / "city", tmp_path / "stores")
    try:
        wal = dataset_file(apart.folder, SR).with_name(f"{SR}.sqlite-wal")
        replaced = [{**row, "descriptor": "z" * 900} for row in sr_rows]
        apply_changes(apart, {"at": "2024-12-31T10:00:00.000Z", "datasets": {SR: {"replace": replaced}}})
        # The replace's rows went through it; what is left is the publish's stamp written after.
        assert wal.stat().st_size < 100_000
        assert _rows(apart, SR, select="count(*) AS n", where="descriptor = '" + "z" * 900 + "'") == [{"n": "3000"}]
        upserted = [{**row, "descriptor": "w" * 900} for row in sr_rows[:1000]]
        apply_changes(apart, {"at": "2025-01-01T10:00:00.000Z", "datasets": {SR: {"upsert": upserted}}})
        assert wal.stat().st_size < 100_000
        assert _rows(apart, SR, select="count(*) AS n", where="descriptor = '" + "w" * 900 + "'") == [{"n": "1000"}]
    finally:
        apart.close()


def test_an_upsert_commits_in_parts_and_a_bad_change_writes_nothing(tmp_path: Path) -> None:
    sr_rows, _ = _city(tmp_path / "city")
    apart = _one_file_per_dataset(tmp_path / "city", tmp_path / "stores")
    store = apart.store_for(SR)
    try:
        wal = store.db_path.with_name(f"{SR}.sqlite-wal")
        wal_sizes: list[int] = []

        def before_statement(statement: str) -> None:
            if "wal_checkpoint" in statement:  # what the part just committed is in the WAL now
                wal_sizes.append(wal.stat().st_size if wal.exists() else 0)

        store.connection().set_trace_callback(before_statement)
        whole = [{**row, "descriptor": "t" * 900} for row in sr_rows]
        assert store.upsert(SR, whole, "2025-01-01T09:00:00.000Z", commit_rows=10_000)["updated"] == 3000
        (in_one,) = wal_sizes
        wal_sizes.clear()
        changed = [{**row, "descriptor": "v" * 900} for row in sr_rows]
        assert store.upsert(SR, changed, "2025-01-01T10:00:00.000Z", commit_rows=500) == {
            "updated": 3000,
            "inserted": 0,
        }
        # Six parts, each checkpointed: the WAL holds a part's pages, not the whole change's.
        assert len(wal_sizes) == 6 and 0 < max(wal_sizes) < in_one / 3
        wal_sizes.clear()
        # A change whose last row cannot be applied writes none of its rows, whatever the parts.
        bad = [{**row, "descriptor": "u"} for row in sr_rows[:2000]] + [{"descriptor": "no key"}]
        with pytest.raises(ValueError, match="change row 2000 has no natural key"):
            store.upsert(SR, bad, "2025-01-02T10:00:00.000Z", commit_rows=500)
        again = [{"unique_key": "9000", "descriptor": "new"}, {"unique_key": "9000", "descriptor": "twice"}]
        with pytest.raises(ValueError, match="insert of existing unique_key=9000"):
            store.upsert(SR, again, "2025-01-02T10:00:00.000Z", mode="insert", commit_rows=1)
        with pytest.raises(ValueError, match="update of missing unique_key=9001"):
            store.upsert(SR, [*changed[:10], {"unique_key": "9001"}], "2025-01-02T10:00:00.000Z", mode="update")
        assert wal_sizes == []
        assert _rows(apart, SR, select="count(*) AS n", where="descriptor = '" + "v" * 900 + "'") == [{"n": "3000"}]
        assert _rows(apart, SR, select="count(*) AS n") == [{"n": "3000"}]
    finally:
        apart.close()
