"""The batch scoring job as a plain entry point: `python -m training.score_job [--as-of YYYY-MM-DD]`.

`vsentinel score` runs the same `score_every_building`; submit this to a cluster with
`ray job submit --working-dir . -- python -m training.score_job` (an external scheduler can do the same).
"""

from __future__ import annotations

from datetime import date

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from sentinel.artifact_store import from_settings
from sentinel.embedded import ServicesNotConfiguredError, local_services
from sentinel.risk.scoring import Artifacts
from sentinel.risk.service import ModelUnavailableError, ScoreService, connect_to
from sentinel.settings import get_settings


def score_every_building(database_url: str, model_dir: Artifacts, as_of: date, console: Console) -> int:
    """Score and store every building with the active models, showing progress; exit 1 without a model."""
    service = ScoreService(connect_to(database_url), model_dir=model_dir)
    try:
        model = service.model()
    except ModelUnavailableError as error:
        Console(stderr=True).print(f"[bold red]error:[/] {error}: train and promote one first")
        raise typer.Exit(1) from None
    with Progress(
        TextColumn("scoring"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn()
    ) as progress:
        task = progress.add_task("score", total=None)
        written = service.score_all(
            as_of, progress=lambda done, total: progress.update(task, completed=done, total=total)
        )
    console.print(f"{written} buildings scored as of {as_of} with {dict(model.versions)}")
    return written


def score_command(
    as_of: str | None = typer.Option(None, help="Score as of this day (YYYY-MM-DD); default today."),
) -> None:
    """Score every building with the active models and upsert risk_scores (idempotent per day)."""
    day = date.fromisoformat(as_of) if as_of else date.today()
    settings = get_settings()
    try:
        with local_services(settings) as services:
            score_every_building(services.database_url, from_settings(settings), day, Console())
    except ServicesNotConfiguredError as error:  # inside a Ray job with no database: say which setting is missing
        Console(stderr=True).print(f"[bold red]error:[/] {error}", markup=False)
        raise typer.Exit(2) from None


def main() -> None:
    typer.run(score_command)


if __name__ == "__main__":
    main()
