"""`vsentinel synth`: generate a synthetic NYC city in the real API JSON formats, with its ground truth."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from citysim.synth import SynthConfig, write_changes, write_city
from citysim.synth.dates import day_number


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{name} must be YYYY-MM-DD, got {value!r}") from None


def synth_command(
    buildings: Annotated[int, typer.Option(min=1, help="Number of buildings.")] = 1000,
    start: Annotated[str, typer.Option(help="First simulated day, YYYY-MM-DD.")] = "2015-01-01",
    end: Annotated[str, typer.Option(help="Last simulated day, YYYY-MM-DD.")] = "2024-12-31",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed writes byte-identical files.")] = 1,
    out: Annotated[Path, typer.Option(help="Output directory (<dataset_id>.json + ground_truth/).")] = Path(
        "synth-city"
    ),
    as_of: Annotated[
        str | None, typer.Option(help="Write the datasets as they stood on this day (default: --end).")
    ] = None,
    change_days: Annotated[
        int, typer.Option(min=0, help="Also write changes/<day>.json for this many days after --as-of.")
    ] = 0,
    workers: Annotated[
        int, typer.Option(min=1, max=2, help="Processes writing the datasets (the files are the same with 1 or 2).")
    ] = 2,
) -> None:
    """Generate a synthetic city: every dataset as `<out>/<dataset_id>.json`, ground truth in `<out>/ground_truth/`."""
    config = SynthConfig(buildings=buildings, start=_date(start, "--start"), end=_date(end, "--end"), seed=seed)
    snapshot = _date(as_of, "--as-of") if as_of else config.end
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("buildings", total=buildings)
        summary = write_city(
            config,
            out,
            as_of=day_number(snapshot),
            progress=lambda done, _t: progress.update(task, completed=done),
            workers=workers,
        )
    for dataset_id, rows in summary.rows.items():
        console.print(f"{dataset_id}.json  {rows:>10,} rows")
    if change_days:
        days = [
            snapshot + timedelta(days=k)
            for k in range(1, change_days + 1)
            if snapshot + timedelta(days=k) <= config.end
        ]
        paths = write_changes(config, days, out / "changes")
        console.print(f"{len(paths)} change files in {out / 'changes'}")
