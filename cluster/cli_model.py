"""`vsentinel train`, `vsentinel score` and `vsentinel model list|show|promote`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from cluster.cli_common import fail, services_or_exit, settings_or_exit
from cluster.console import console, emit_json, machine_output
from cluster.console import table as console_table
from sentinel.artifact_store import ArtifactStore, ArtifactStoreError, from_settings, parent, read_bytes, resolve
from sentinel.risk import registry
from sentinel.risk.registry import SCORE_KINDS

if TYPE_CHECKING:  # training imports Ray and xgboost: only `train` pays for them
    from training.distributed import TrialProgress

model_app = typer.Typer(help="Trained risk models: list, inspect, promote.", no_args_is_help=True)


@contextlib.contextmanager
def _database() -> Iterator[tuple[psycopg.Connection, ArtifactStore, str]]:
    """A connection, the artifact store and Ray's storage (a path or an s3:// URI), from the settings."""
    settings = settings_or_exit()
    try:
        store = from_settings(settings)
    except ArtifactStoreError as error:
        raise fail(str(error), code=2) from None
    with services_or_exit(settings) as services, psycopg.connect(services.database_url) as conn:
        yield conn, store, settings.resolved_ray_storage


@model_app.command("list")
def model_list(
    kind: str | None = typer.Option(None, help="Only this score: " + ", ".join(SCORE_KINDS)),
    as_json: bool = typer.Option(False, "--json", help="Print the models as one JSON document on stdout."),
) -> None:
    """Every registered model, newest first; the active one of each score is marked."""
    machine_output(as_json)
    with _database() as (conn, _, _):
        records = registry.list_models(conn, kind)
    if as_json:
        emit_json(records)
        return
    table = console_table(
        "score", "version", "scorer", "active", "ROC AUC", "PR AUC", "test cutoff", "trained at",
        numeric=("ROC AUC", "PR AUC"),
    )  # fmt: skip
    for r in records:
        auc, pr = r.metrics.get("roc_auc"), r.metrics.get("pr_auc")
        table.add_row(
            r.score_kind,
            r.version,
            r.scorer,
            "yes" if r.is_active else "",
            f"{auc:.3f}" if auc is not None else "-",
            f"{pr:.3f}" if pr is not None else "-",
            str(r.metrics.get("test_cutoff", "")),
            f"{r.trained_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@model_app.command("show")
def model_show(version: str, kind: str = typer.Option("overall", help="Score kind.")) -> None:
    """Parameters, metrics and the evaluation report of one model."""
    with _database() as (conn, store, _):
        try:
            record = registry.get(conn, kind, version)
        except registry.ModelNotFoundError as error:
            raise fail(str(error)) from None
        uri = resolve(record.artifact_uri, store)
        report = read_bytes(f"{parent(uri)}/report.md", store)
    console.print(f"[bold]{record.score_kind}[/] {record.version}  active={record.is_active}")
    console.print(f"artifact: {uri}")
    console.print_json(data={"params": record.params, "metrics": record.metrics})
    if report is not None:
        console.print(report.decode())


@model_app.command("promote")
def model_promote(
    version: str,
    kind: list[str] = typer.Option(  # noqa: B008 - typer reads options from defaults
        list(SCORE_KINDS), help="Scores to promote (default: all four)."
    ),
) -> None:
    """Make a version the active model (one transaction per score; the previous active one is retired).

    A model that did not beat the weighted open count on its test year is refused (its `-baseline` version can be
    promoted instead)."""
    with _database() as (conn, _, _):
        for k in kind:
            try:
                record = registry.get(conn, k, version)
                if record.scorer == "model" and record.metrics.get("beats_baseline") is False:
                    gap = record.metrics.get("auc_over_weighted_count") or {}
                    raise fail(
                        f"{k} {version} did not beat the weighted open count on its test year (AUC difference "
                        f"{gap.get('estimate')}, interval [{gap.get('low')}, {gap.get('high')}]); "
                        f"promote {version}-baseline instead"
                    )
                registry.promote(conn, k, version)
            except registry.ModelNotFoundError as error:
                raise fail(str(error)) from None
            console.print(f"{k}: {version} is active")


class TrialBars:
    """A progress bar per sweep trial: boosting rounds done, its latest validation metric, how it ended."""

    def __init__(self, shown: bool = True) -> None:
        self._shown = shown
        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:>4.0f}/{task.total:.0f} rounds"),
            TextColumn("{task.fields[metric]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> TrialBars:
        if self._shown:
            self.bars.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._shown:
            self.bars.__exit__(*exc)

    def update(self, trial: TrialProgress) -> None:
        task = self._tasks.get(trial.trial)
        if task is None:
            shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.config.items())
            task = self._tasks[trial.trial] = self.bars.add_task(
                f"trial {len(self._tasks) + 1} ({shown})", total=trial.max_rounds, metric=""
            )
        metric = f"{trial.metric:.4f}" if trial.metric is not None else ""
        if trial.state != "running":
            metric = f"{metric} {trial.state}".strip()
        total = trial.rounds if trial.state in ("stopped early", "failed") and trial.rounds else trial.max_rounds
        self.bars.update(task, completed=trial.rounds, total=total, metric=metric)


def train_command(
    tune: bool = typer.Option(False, "--tune", help="Sweep hyperparameters with Ray Tune first."),
    samples: int | None = typer.Option(None, "--samples", help="Trials in the sweep (default: configs/tune.yaml)."),
    promote: bool = typer.Option(
        False,
        "--promote",
        help="Promote even if not better than the active model (never past the baseline gate: a model that does not "
        "beat the weighted open count by more than its bootstrap interval is not promoted).",
    ),
    ground_truth: Path | None = typer.Option(None, help="A synthetic city ground_truth/ dir for the oracle AUC."),  # noqa: B008
) -> None:
    """Build the training set, train the four risk models on Ray, evaluate them out of time and register them."""
    # Ray, xgboost and the training pipeline load only for a run, not for `vsentinel --help` or `model list`.
    from cluster import ray_runtime
    from training import pipeline
    from training.config import load_training_settings

    settings = settings_or_exit()
    training = load_training_settings()
    with _database() as (conn, model_dir, storage), TrialBars(shown=tune) as bars:
        ray_runtime.connect_shared(settings, long_running=False)
        report = pipeline.run(
            conn,
            training,
            model_dir,
            storage,
            tune=tune,
            samples=samples,
            promote=promote,
            ground_truth=ground_truth,
            log=console.print,
            on_trial=bars.update,
        )
    console.print(f"version [bold]{report.version}[/]: report {report.uri}/report.md")
    console.print(f"promoted: {', '.join(report.promoted) or 'none'}")
    if report.baselined:
        console.print(
            f"served by the calibrated weighted open count (no model beat it on the test year): "
            f"{', '.join(report.baselined)}"
        )
    for result in report.results:
        console.print(f"  {result.kind}: model AUC - weighted count AUC {result.over_baseline['model']}")


def score_command(
    as_of: str | None = typer.Option(None, help="Score as of this day (YYYY-MM-DD); default today."),
) -> None:
    """Score every building with the active models and upsert risk_scores (idempotent per day).

    The batch scoring job: on a cluster `ray job submit --working-dir . -- vsentinel score` (or the RayJob
    deploy/k8s/rayjob-score.yaml); the scheduler runs the same ScoreService.score_all daily."""
    # xgboost and pandas load only when scoring, not for `vsentinel --help` or `model list`.
    from sentinel.risk.service import ModelUnavailableError, ScoreService, connect_to

    try:
        day = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        raise fail(f"--as-of {as_of!r} is not a date (YYYY-MM-DD)", code=2) from None
    settings = settings_or_exit()
    with services_or_exit(settings) as services:
        service = ScoreService(connect_to(services.database_url), model_dir=from_settings(settings))
        try:
            model = service.model()
        except ModelUnavailableError as error:
            raise fail(f"{error}: train and promote one first") from None
        with Progress(
            TextColumn("scoring"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn()
        ) as progress:
            task = progress.add_task("score", total=None)
            written = service.score_all(
                day,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
                workers=settings.score_workers,
            )
    console.print(f"{written} buildings scored as of {day} with {dict(model.versions)}")
