"""Driving an ingestion run from the CLI, the demo and the scheduler: run the flow on Ray (the coordinator actor)
or on this machine's processes (`engine="local"`), show live progress (rows and rows/s per dataset and borough),
and print the summary table."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, Literal

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from cluster.console import table as console_table
from sentinel.datasets import load_datasets
from sentinel.ingest.flow import BOROUGH_PARTITIONS, PipelineShape, partition_label
from sentinel.ingest.local_engine import run_local
from sentinel.ingest.pipeline import DatasetSummary, Guards
from sentinel.settings import get_settings

# "ray": the coordinator and its stage actors on the connected Ray (a cluster; the scheduler's kept pipeline).
# "local": this machine's processes, no Ray needed (a one-off load on one machine).
Engine = Literal["ray", "local"]
ENGINES: tuple[Engine, ...] = ("ray", "local")


@dataclass(slots=True)
class IngestResult:
    run_id: int
    summaries: list[DatasetSummary]
    seconds: float

    @property
    def failed(self) -> list[DatasetSummary]:
        return [s for s in self.summaries if s.error]

    @property
    def held(self) -> list[DatasetSummary]:
        """Datasets whose deletions a guard held back (the run is 'partial')."""
        return [s for s in self.summaries if s.anomaly and not s.error]


class IngestProgress:
    """Rich progress bars for a run: one per dataset and one per partition (borough) under it, with rows merged
    and rows/s. The source's size is not asked for (a count per partition is one more slow request against the
    real API), so a bar pulses until its dataset is done, then fills."""

    def __init__(self, console: Console) -> None:
        self.bars = Progress(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:>12,.0f} rows"),
            TextColumn("{task.fields[rate]:>10} rows/s"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[tuple[str, str | None], TaskID] = {}

    def __enter__(self) -> IngestProgress:
        self.bars.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.__exit__(*exc)

    def update(self, progress: dict[str, Any]) -> None:
        for dataset, partitions in progress["rows"].items():
            done = bool(progress["done"].get(dataset))
            self._set((dataset, None), f"[bold]{escape(dataset)}[/]", sum(partitions.values()), done)
            if len(partitions) > 1 or any(p in BOROUGH_PARTITIONS for p in partitions):
                for partition, rows in sorted(partitions.items()):
                    self._set((dataset, partition), f"  {partition_label(partition)}", rows, done)

    def _set(self, key: tuple[str, str | None], description: str, rows: int, done: bool) -> None:
        task = self._tasks.get(key)
        if task is None:
            task = self._tasks[key] = self.bars.add_task(description, total=None, rate="-")
        elapsed = self.bars.tasks[task].elapsed or 0.0
        rate = f"{rows / elapsed:,.0f}" if elapsed > 0.5 else "-"
        self.bars.update(task, completed=rows, total=max(rows, 1) if done else None, rate=rate)


def summary_table(result: IngestResult) -> Table:
    columns = ("dataset", "fetched", "inserted", "updated", "unchanged", "rejected", "skipped", "deleted",
               "duplicates", "field problems", "seconds", "status")  # fmt: skip
    numeric = columns[1:-1]
    table = console_table(*columns, title=f"ingestion run {result.run_id}: {result.seconds:.1f} s", numeric=numeric)
    for s in result.summaries:
        if s.error:
            status = f"[red]FAILED: {escape(s.error)}[/]"
        elif s.anomaly:
            status = f"[yellow]PARTIAL: {escape(s.anomaly)}[/]"
        else:
            status = "[green]ok[/]"
        if s.unchanged_since is not None:
            status = f"[green]ok[/]: unchanged since {s.unchanged_since.replace('T', ' ')}, not read"
        if s.full_replace_detected:
            status += " (full replace detected)"
        if s.read == "partial":
            status += " (partial read: what can have changed; deletions wait for the next whole read)"
        counts = (s.fetched, s.inserted, s.updated, s.unchanged, s.rejected, s.skipped, s.deleted, s.duplicates,
                  s.quality_problems)  # fmt: skip
        table.add_row(s.dataset, *(f"{v:,}" for v in counts), f"{s.seconds:.1f}", status)
    return table


def quality_table(result: IngestResult, limit: int = 12) -> Table | None:
    """The run's most frequent field problems and reject reasons; None when it had none."""
    lines = [(s.dataset, name, reason, n) for s in result.summaries for name, reasons in s.quality.items()
             for reason, n in reasons.items()]  # fmt: skip
    lines += [(s.dataset, "(rejected)", reason, n) for s in result.summaries for reason, n in s.reject_reasons.items()]
    if not lines:
        return None
    title = f"data quality (vsentinel quality --run {result.run_id} for all)"
    table = console_table("dataset", "field", "reason", "rows", title=title, numeric=("rows",))
    for dataset, name, reason, n in sorted(lines, key=lambda line: -line[3])[:limit]:
        table.add_row(dataset, name, reason, f"{n:,}")
    return table


# Coordinators kept by `run_ingestion(keep_pipeline=True)`, owned by this process: the handle held here is what
# keeps the actor alive (Ray ends an actor when its last handle goes), and it ends with this process.
_kept: dict[tuple[str, str, str | None, PipelineShape], Any] = {}


def kept_pipeline(
    database_url: str, source_url: str, app_token: str | None = None, shape: PipelineShape | None = None
) -> Any | None:
    """The coordinator a previous `run_ingestion(keep_pipeline=True)` left running, if any."""
    return _kept.get((database_url, source_url, app_token, _resolved(shape)))


def _resolved(shape: PipelineShape | None) -> PipelineShape:
    return shape or PipelineShape.from_settings(get_settings())


def run_ingestion(
    *,
    database_url: str,
    source_url: str,
    app_token: str | None,
    datasets: list[str],
    incremental: bool,
    shape: PipelineShape | None = None,
    console: Console | None = None,
    keep_pipeline: bool = False,
    engine: Engine = "ray",
) -> IngestResult:
    """Runs one ingestion, on the connected Ray cluster or (`engine="local"`) on this machine's processes; shows
    progress when given a console.

    With `keep_pipeline` (Ray only) the coordinator and its actors outlive the run and the next run with the same
    database, source, token and shape uses them again, so a scheduler's incremental runs do not start eight worker
    processes every time: on 2 cores that was most of a small run's wall time.
    """
    started = time.perf_counter()
    if engine == "local":
        if keep_pipeline:
            raise ValueError("only a Ray pipeline is kept between runs")
        run_id, summaries = _run_local(database_url, source_url, app_token, datasets, incremental, shape, console)
    else:
        run_id, summaries = _run_on_ray(
            database_url, source_url, app_token, datasets, incremental, shape, console, keep_pipeline
        )
    result = IngestResult(run_id, summaries, time.perf_counter() - started)
    if console is not None:
        console.print(summary_table(result))
        quality = quality_table(result)
        if quality is not None:
            console.print(quality)
    return result


def _run_local(
    database_url: str, source_url: str, app_token: str | None, datasets: list[str], incremental: bool,
    shape: PipelineShape | None, console: Console | None,
) -> tuple[int, list[DatasetSummary]]:  # fmt: skip
    with contextlib.ExitStack() as stack:
        bars = stack.enter_context(IngestProgress(console)) if console is not None else None
        return run_local(
            database_url=database_url, source_url=source_url, app_token=app_token, datasets=datasets,
            incremental=incremental, shape=_resolved(shape), guards=Guards.from_settings(get_settings()),
            catalog=load_datasets(), watch=bars.update if bars is not None else None,
        )  # fmt: skip


def _run_on_ray(
    database_url: str, source_url: str, app_token: str | None, datasets: list[str], incremental: bool,
    shape: PipelineShape | None, console: Console | None, keep_pipeline: bool,
) -> tuple[int, list[DatasetSummary]]:  # fmt: skip
    import ray  # only a Ray run pays Ray's import

    from actors.ingestion import IngestCoordinator

    key = (database_url, source_url, app_token, _resolved(shape))
    coordinator = _kept.get(key) if keep_pipeline else None
    if coordinator is None:
        guards = Guards.from_settings(get_settings())
        coordinator = IngestCoordinator.remote(database_url, source_url, app_token, key[3], guards=guards)
        if keep_pipeline:
            _kept[key] = coordinator
    try:
        run = coordinator.run.remote(datasets, incremental)
        if console is not None:
            with IngestProgress(console) as bars:
                while not ray.wait([run], timeout=0.25)[0]:
                    bars.update(ray.get(coordinator.progress.remote()))
        run_id, summaries = ray.get(run)
    except BaseException:
        _kept.pop(key, None)  # a pipeline in an unknown state is not kept
        ray.kill(coordinator)
        raise
    if not keep_pipeline:
        ray.kill(coordinator)
    return run_id, summaries


def stop_pipeline(
    database_url: str, source_url: str, app_token: str | None = None, shape: PipelineShape | None = None
) -> bool:
    """Stops a pipeline kept by `run_ingestion(keep_pipeline=True)`; False if there was none."""
    coordinator = _kept.pop((database_url, source_url, app_token, _resolved(shape)), None)
    if coordinator is None:
        return False
    import ray

    ray.kill(coordinator)
    return True
