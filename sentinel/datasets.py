"""The dataset catalogue (configs/datasets.yaml) as typed configuration."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sentinel.bbl import BOROUGH_NAMES, BOROUGH_SHORT

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "configs" / "datasets.yaml"
TABLES_WITH_SOURCE = {
    "violations": {"HPD", "DOB", "DOB_SAFETY", "ECB", "HPD_VACATE"},
    "complaints": {"HPD", "DOB", "311"},
}
OTHER_PARTITION = "other"


class PartitionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["borough", "key_prefix", "none"]
    field: str | None = None
    where: str | None = None  # template: {code} 1..5, {name} MANHATTAN.., {short} MN..
    other_where: str | None = None  # rows the five borough partitions miss

    @model_validator(mode="after")
    def _templates(self) -> PartitionConfig:
        if self.kind != "none" and not (self.field and self.where):
            raise ValueError(f"partition kind {self.kind!r} needs `field` and `where`")
        return self

    def where_for(self, borough: int) -> str:
        if self.where is None:
            raise ValueError("this dataset is not partitioned by borough")
        return self.where.format(code=borough, name=BOROUGH_NAMES[borough], short=BOROUGH_SHORT[borough])


class PartialReadConfig(BaseModel):
    """How a full-replace dataset's daily read can be cut to what can have changed (sentinel/ingest/partial_read.py):
    the publisher rewrites every row, but a record's content changes only on a day it stamps into one of
    `changed_on`, and a new record gets a key above every earlier one of its partition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Text date fields a change stamps with its day (text, so only equality/IN can select them server-side).
    changed_on: tuple[str, ...] = Field(min_length=1)
    date_format: str = "%m/%d/%Y"
    # Days before the last read's publish day that a partial read still asks for: a change may be entered days
    # after the date it carries, and the publisher's clock is not ours.
    lookback_days: int = Field(default=2, ge=0, le=30)
    # The key is text of this many digits, so text order is number order and a new record's key is above the
    # largest stored one of its partition; None: new records are found by `changed_on` alone.
    key_width: int | None = Field(default=None, ge=1)


class DatasetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    socrata_id: str = Field(pattern=r"^[a-z0-9]{4}-[a-z0-9]{4}$")
    title: str = ""
    natural_key: str
    target_table: Literal["violations", "complaints", "properties", "registrations", "registration_contacts"]
    extra_tables: tuple[str, ...] = ()
    source: str | None = None
    normalizer: str
    change_strategy: Literal["incremental", "full_replace"]
    row_filter: str | None = None
    partition: PartitionConfig
    # Full-replace datasets only: daily reads of what can have changed, a whole read every few days.
    partial_read: PartialReadConfig | None = None

    @model_validator(mode="after")
    def _source_fits_table(self) -> DatasetConfig:
        allowed = TABLES_WITH_SOURCE.get(self.target_table)
        if allowed is not None and self.source not in allowed:
            raise ValueError(f"{self.name}: source {self.source!r} is not one of {sorted(allowed)}")
        if self.partial_read is not None and self.change_strategy != "full_replace":
            raise ValueError(f"{self.name}: partial_read is for full_replace datasets")
        return self

    @property
    def tables(self) -> tuple[str, ...]:
        return (self.target_table, *self.extra_tables)

    def partitions(self) -> dict[str, str | None]:
        """Partition name -> SoQL $where (row_filter included); {"all": row_filter} when unpartitioned."""
        if self.partition.kind == "none":
            return {"all": self.row_filter}
        wheres: dict[str, str | None] = {str(b): self.partition.where_for(b) for b in BOROUGH_NAMES}
        if self.partition.other_where:
            wheres[OTHER_PARTITION] = self.partition.other_where
        if self.row_filter:
            wheres = {k: f"({self.row_filter}) AND ({w})" for k, w in wheres.items()}
        return wheres


def load_datasets(path: str | Path | None = None) -> dict[str, DatasetConfig]:
    """Datasets by name from `path`, else $VS_DATASETS_CONFIG, else configs/datasets.yaml of this checkout."""
    chosen = Path(path or os.environ.get("VS_DATASETS_CONFIG") or DEFAULT_PATH)
    return dict(_load(chosen.resolve()))


@cache
def _load(path: Path) -> tuple[tuple[str, DatasetConfig], ...]:
    doc = yaml.safe_load(path.read_text())
    entries = (doc or {}).get("datasets") or {}
    if not isinstance(entries, dict) or not entries:
        raise ValueError(f"{path}: no `datasets:` mapping")
    return tuple((name, DatasetConfig(name=name, **spec)) for name, spec in entries.items())


def dataset_by_socrata_id(socrata_id: str, datasets: dict[str, DatasetConfig] | None = None) -> DatasetConfig:
    for config in (datasets or load_datasets()).values():
        if config.socrata_id == socrata_id:
            return config
    raise KeyError(f"no dataset with socrata id {socrata_id!r}")
