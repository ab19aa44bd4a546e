"""`vsentinel synth`: generate a synthetic NYC city in the real API JSON formats, with its ground truth."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sentinel.datasets import load_datasets


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{name} must be YYYY-MM-DD, got {value!r}") from None


def _dataset_ids(names: str | None) -> frozenset[str]:
    """Socrata ids of a comma-separated list of dataset names or ids (every synthetic dataset when none)."""
    from citysim.synth import DATASET_IDS

    if not names:
        return frozenset(DATASET_IDS)
    by_name = {name: spec.socrata_id for name, spec in load_datasets().items()}
    chosen = set()
    for name in (n.strip() for n in names.split(",") if n.strip()):
        dataset_id = by_name.get(name, name)
        if dataset_id not in DATASET_IDS:
            raise typer.BadParameter(f"--datasets: {name!r} is none of {', '.join(sorted(by_name))}")
        chosen.add(dataset_id)
    return frozenset(chosen)


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
    nyc_scale: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="The real city's row counts and daily volumes (citysim/synth/nyc.py) at this fraction of its 858k "
            "lots (1 = full size); replaces --buildings, --start and --end. The default --as-of is then "
            "--change-days before the end.",
        ),
    ] = None,
    truth: Annotated[bool, typer.Option(help="Write the ground truth (events.csv has a line per record).")] = True,
    datasets: Annotated[
        str | None,
        typer.Option(
            help="Only these datasets' files and changes, comma-separated names (hpd_violations) or ids (wvxf-dwi5); "
            "the rows are those of the whole city's files."
        ),
    ] = None,
    compress: Annotated[
        bool,
        typer.Option(
            help="Write zstd-compressed files (<dataset_id>.json.zst, changes/<day>.json.zst), a small part of the "
            "JSON's size; the replay server reads them as they are."
        ),
    ] = False,
) -> None:
    """Generate a synthetic city: every dataset as `<out>/<dataset_id>.json`, ground truth in `<out>/ground_truth/`."""
    # The generator (numpy and the city's tables) loads only when a city is made, not with every command.
    from citysim.synth import SynthConfig, write_changes, write_city
    from citysim.synth.changes import DailyVolumes
    from citysim.synth.dates import day_number
    from citysim.synth.jsonarray import json_file_name
    from citysim.synth.nyc import NYC_DAILY, nyc_config

    volumes = DailyVolumes()
    if nyc_scale is not None:
        if nyc_scale <= 0:
            raise typer.BadParameter("--nyc-scale must be above 0")
        config = nyc_config(nyc_scale, seed)
        volumes = NYC_DAILY
        buildings = config.buildings
    else:
        config = SynthConfig(buildings=buildings, start=_date(start, "--start"), end=_date(end, "--end"), seed=seed)
    default_as_of = config.end - timedelta(days=change_days) if nyc_scale is not None else config.end
    snapshot = _date(as_of, "--as-of") if as_of else default_as_of
    chosen = _dataset_ids(datasets)
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
            truth=truth,
            datasets=chosen,
            compress=compress,
        )
    for dataset_id, rows in summary.rows.items():
        console.print(f"{json_file_name(dataset_id, compress)}  {rows:>10,} rows")
    if change_days:
        days = [
            snapshot + timedelta(days=k)
            for k in range(1, change_days + 1)
            if snapshot + timedelta(days=k) <= config.end
        ]
        paths = write_changes(config, days, out / "changes", volumes, datasets=chosen, compress=compress)
        console.print(f"{len(paths)} change files in {out / 'changes'}")
