"""Training settings: configs/tune.yaml, overridden by `VS_TRAIN_<KEY>` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sentinel.settings import CONFIG_DIR, FileBackedSettings


class TrainingSettings(FileBackedSettings):
    model_config = SettingsConfigDict(env_prefix="VS_TRAIN_", extra="ignore")
    file_variable: ClassVar[str] = "VS_TRAIN_CONFIG_FILE"
    default_file: ClassVar[Path] = CONFIG_DIR / "tune.yaml"

    engine: Literal["pandas", "modin"] = "pandas"
    workers: int = Field(default=2, ge=1)
    cpus_per_worker: float = Field(default=1, gt=0)
    max_concurrent_trials: int = Field(default=1, ge=1)
    num_samples: int = Field(default=8, ge=1)
    num_boost_round: int = Field(default=300, ge=1)
    report_every: int = Field(default=25, ge=1)
    health_check_interval_s: float = Field(default=0.2, gt=0)
    # False: public Ray APIs only (training/ray_private.py), as with a Ray other than the pinned one.
    private_ray: bool = True
    # A trial whose run fails (a lost node took a worker or the trial itself) starts again, this many times.
    trial_max_failures: int = Field(default=2, ge=0)
    horizon_days: int = Field(default=365, ge=30)
    financial_threshold: float = 1000.0
    # A process whose training rows number this many or more (a Train worker's shard, a rolling fold's task) keeps
    # xgboost's binned matrix in files on its node's disk, read back a page at a time, instead of in memory: what
    # the city's full size needs (benchmarks/RESULTS.md, "Training rows a part at a time"). 0: never.
    external_memory_rows: int = Field(default=2_000_000, ge=0)
    history_days: int = Field(default=365, ge=0)
    max_train_cutoffs: int = Field(default=12, ge=1)
    # Training rows a fit reads at most (a Train run's, a rolling fold's): above it, the same share of every part,
    # drawn alike in every process (`training.trial.Rows.sampled`). What xgboost holds a training row then stops
    # growing with the city's lots (benchmarks/RESULTS.md, "What training's memory grows with"). 0: every row.
    max_train_rows: int = Field(default=5_000_000, ge=0)
    eval_folds: int = Field(default=3, ge=1)
    metric: str = "valid-logloss"
    mode: Literal["min", "max"] = "min"
    asha: dict[str, Any] = Field(default_factory=lambda: {"grace_period": 2, "reduction_factor": 2})
    fixed: dict[str, Any] = Field(default_factory=dict)
    default_params: dict[str, Any] = Field(default_factory=dict)
    search_space: dict[str, dict[str, list[float]]] = Field(default_factory=dict)

    def params(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        return {**self.fixed, **self.default_params, **(overrides or {})}


def load_training_settings(**overrides: Any) -> TrainingSettings:
    return TrainingSettings(**overrides)
