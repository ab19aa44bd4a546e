"""Dataset schemas (Socrata column types) and portal-CSV header maps, read from configs/."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
SCHEMAS_PATH = CONFIG_DIR / "socrata_schemas.yaml"
CSV_HEADERS_PATH = CONFIG_DIR / "socrata_csv_headers.json"

SOCRATA_TYPES = frozenset({"text", "number", "floating_timestamp", "fixed_timestamp", "checkbox", "point", "money"})
# System fields are served by every dataset; Socrata types them like this in X-SODA2-Types.
SYSTEM_FIELDS: dict[str, str] = {
    ":id": "row_identifier",
    ":created_at": "fixed_timestamp",
    ":updated_at": "fixed_timestamp",
}


@dataclass(frozen=True)
class Column:
    field: str
    type: str
    name: str


@dataclass(frozen=True)
class DatasetSchema:
    id: str
    name: str
    key: str
    columns: tuple[Column, ...]
    indexed: tuple[str, ...] = ()  # columns clients filter every page on (the borough), indexed with :id
    # Columns clients also filter on while reading the changes since a time, in :updated_at order (the borough of
    # an incremental read), indexed with :updated_at and :id.
    indexed_by_update: tuple[str, ...] = ()
    _types: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._types.update({c.field: c.type for c in self.columns})

    def type_of(self, field_name: str) -> str:
        """Socrata type of a column; columns the config does not know are text, as the issue asks."""
        if field_name in SYSTEM_FIELDS:
            return SYSTEM_FIELDS[field_name]
        return self._types.get(field_name, "text")

    def fields_of_type(self, *types: str) -> frozenset[str]:
        return frozenset(c.field for c in self.columns if c.type in types)


@cache
def load_schemas(path: Path = SCHEMAS_PATH) -> dict[str, DatasetSchema]:
    raw = yaml.safe_load(path.read_text())["datasets"]
    schemas: dict[str, DatasetSchema] = {}
    for dataset_id, spec in raw.items():
        columns = tuple(Column(c["field"], c["type"], c.get("name", c["field"])) for c in spec["fields"])
        unknown = {c.type for c in columns} - SOCRATA_TYPES
        if unknown:
            raise ValueError(f"{path}: dataset {dataset_id} uses unknown Socrata types {sorted(unknown)}")
        indexed = tuple(spec.get("indexed", ()))
        by_update = tuple(spec.get("indexed_by_update", ()))
        schemas[dataset_id] = DatasetSchema(dataset_id, spec["name"], spec["key"], columns, indexed, by_update)
    return schemas


def schema_for(dataset_id: str) -> DatasetSchema:
    """Schema of a dataset; an unknown id gets an empty schema (every column text, key `:id`)."""
    return load_schemas().get(dataset_id) or DatasetSchema(dataset_id, dataset_id, ":id", ())


@cache
def load_csv_headers(path: Path = CSV_HEADERS_PATH) -> dict[str, dict[str, str]]:
    """Per dataset id, the portal-CSV display header -> API field name map."""
    raw = json.loads(path.read_text())
    return {k: v for k, v in raw.items() if not k.startswith("_")}
