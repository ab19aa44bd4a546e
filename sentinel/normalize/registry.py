"""Finding a dataset's normalize function through configs/datasets.yaml (`normalizer:` module path)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from sentinel.datasets import DatasetConfig, load_datasets
from sentinel.records import NormalizedRecord

Normalizer = Callable[[dict[str, Any]], NormalizedRecord]


def normalizer_for(dataset: str | DatasetConfig, datasets: dict[str, DatasetConfig] | None = None) -> Normalizer:
    """The `normalize` function of a dataset, by name (e.g. "hpd_violations") or config."""
    config = dataset if isinstance(dataset, DatasetConfig) else resolve_dataset(dataset, datasets)
    module = importlib.import_module(config.normalizer)
    fn = getattr(module, "normalize", None)
    if not callable(fn):
        raise TypeError(f"{config.normalizer} has no normalize() function")
    return fn  # type: ignore[no-any-return]


def resolve_dataset(name: str, datasets: dict[str, DatasetConfig] | None = None) -> DatasetConfig:
    """A dataset's config by name or Socrata id."""
    datasets = datasets if datasets is not None else load_datasets()
    if name in datasets:
        return datasets[name]
    for config in datasets.values():
        if config.socrata_id == name:
            return config
    raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(datasets))}")


def normalizers_for(datasets: dict[str, DatasetConfig] | None = None) -> dict[str, Normalizer]:
    """Every configured dataset's normalize function, by dataset name."""
    datasets = datasets if datasets is not None else load_datasets()
    return {name: normalizer_for(config) for name, config in datasets.items()}
