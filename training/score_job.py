"""The batch scoring job as a plain entry point: `python -m training.score_job [--as-of YYYY-MM-DD]`.

`vsentinel score` runs the same `score_every_building`; submit this to a cluster with
`ray job submit --working-dir . -- python -m training.score_job` (an external scheduler can do the same).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from sentinel.embedded import local_services
from sentinel.risk.service import ModelUnavailableError, ScoreService, connect_to
from sentinel.settings import get_settings


def score_every_building(database_url: str, model_dir: Path, as_of: date, console: Console) -> int:
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
    with local_services(settings) as services:
        score_every_building(services.database_url, settings.resolved_model_dir, day, Console())


def main() -> None:
    typer.run(score_command)


if __name__ == "__main__":
    main()
