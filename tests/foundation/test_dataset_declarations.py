"""A dataset is declared in four places; these tests make the copies agree, so a drift fails here and not in a load.

Which declaration is the source of what:
- configs/datasets.yaml: a dataset's key (`natural_key`), its target tables and its partitioning. The replay
  schema (configs/socrata_schemas.yaml: `key`, the partition field's type, `indexed`) must agree with it.
- sentinel/records.py: a target table's columns as the ingester writes them (the `*_COLUMNS` tuples), their types
  and nullability (the dataclass fields) and the row's key (`key_columns`). The migrated table (its
  information_schema) must hold them: every column, of a type the value converts to, nullable where the field
  may be None, and the key unique; a NOT NULL column without a default must be one the ingester writes.
- every field a dataset's normalizer reads is a column of its replay schema (or a Socrata system field, `:...`).
- a dataset's `source` (configs/datasets.yaml) is a value its table's CHECK constraint allows, and the constraint
  allows no source that no dataset writes.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import sys
import types
import typing
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from citysim.replay.schemas import load_schemas
from sentinel.datasets import load_datasets
from sentinel.records import ROW_TYPES, Row, column_attribute

# PostgreSQL types (information_schema data_type) a Python value of the row converts to in COPY.
COMPATIBLE: dict[type, set[str]] = {
    str: {"text", "character", "character varying"},
    int: {"smallint", "integer", "bigint"},
    Decimal: {"numeric"},
    float: {"double precision", "real"},
    date: {"date"},
    datetime: {"timestamp with time zone"},
    bool: {"boolean"},
    dict: {"json", "jsonb"},
    bytes: {"bytea"},
}
# Computed columns whose text is JSON (sentinel/quality.py).
JSON_TEXT_COLUMNS = {"quality"}
# Columns whose text is a uuid's (sentinel/source_pages.py: a page's id).
UUID_TEXT_COLUMNS = {"source_page"}


def attribute_type(row_type: type[Row], attribute: str) -> tuple[type, bool]:
    """(the attribute's Python type without None, whether it may be None), for a field or a property."""
    if attribute in {f.name for f in dataclasses.fields(row_type)}:
        hint = typing.get_type_hints(row_type)[attribute]
    else:
        getter = getattr(row_type, attribute).fget
        hint = typing.get_type_hints(getter, vars(sys.modules[row_type.__module__]))["return"]
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else ()
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if args else hint
    return typing.get_origin(base) or base, optional


def test_every_dataset_targets_row_types_and_every_row_type_is_targeted() -> None:
    configs = load_datasets().values()
    assert len(configs) >= 11
    targeted = {table for config in configs for table in config.tables}
    assert targeted == set(ROW_TYPES)


@pytest.mark.parametrize("name", sorted(load_datasets()))
def test_the_replay_schema_agrees_with_the_dataset_config(name: str) -> None:
    config = load_datasets()[name]
    schema = load_schemas().get(config.socrata_id)
    assert schema is not None, f"{name}: no replay schema for {config.socrata_id} in configs/socrata_schemas.yaml"
    fields = {c.field for c in schema.columns}
    assert schema.key == config.natural_key, f"{name}: key {schema.key!r} vs natural_key {config.natural_key!r}"
    assert config.natural_key in fields
    assert set(schema.indexed) <= fields
    partition = config.partition
    if partition.kind == "none":
        return
    assert partition.field in fields, f"{name}: partition field {partition.field!r} is not a column"
    if partition.where is not None and re.search(rf"\b{partition.field}\s*=", partition.where):
        # A compared literal must follow the column's Socrata type: a type mismatch is a 400 on the live API.
        quoted = re.search(r"'\{(code|name|short)\}'", partition.where) is not None
        assert quoted == (schema.type_of(partition.field) != "number"), (name, partition.where)


# Fields a normalizer reads that its replay schema does not list, with the reason.
UNDECLARED_READS = {
    # A second name for actual_rescind_date: tb8q-a3ar's names come from third-party clients, not a live capture.
    ("hpd_vacate_orders", "rescind_date"),
}


def _is_raw(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "raw"


def _field(node: ast.AST) -> Any:
    """The field a node reads from the record, if it is `raw.get("f")`, `g("f")` (g = raw.get) or `raw["f"]`."""
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        f = node.func
        if (isinstance(f, ast.Name) and f.id == "g") or (
            isinstance(f, ast.Attribute) and f.attr == "get" and _is_raw(f.value)
        ):
            return node.args[0].value
    if isinstance(node, ast.Subscript) and _is_raw(node.value) and isinstance(node.slice, ast.Constant):
        return node.slice.value
    return None


def fields_read(module_name: str) -> set[str]:
    """The fields a normalizer module reads from its record, by name."""
    tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
    return {field for node in ast.walk(tree) if isinstance(field := _field(node), str)}


@pytest.mark.parametrize("name", sorted(load_datasets()))
def test_every_field_the_normalizer_reads_is_a_column_of_the_replay_schema(name: str) -> None:
    config = load_datasets()[name]
    read = fields_read(config.normalizer)
    assert len(read) >= 5, f"{name}: the reader found only {read} in {config.normalizer}"
    declared = {c.field for c in load_schemas()[config.socrata_id].columns}
    excused = {f for n, f in UNDECLARED_READS if n == name}
    assert excused <= read - declared, f"{name}: remove {excused - (read - declared)} from UNDECLARED_READS"
    undeclared = {f for f in read - declared if not f.startswith(":")} - excused
    assert not undeclared, f"{name}: {config.normalizer} reads {undeclared}, not columns of {config.socrata_id}"


@pytest.mark.integration
@pytest.mark.parametrize("table", sorted(ROW_TYPES))
def test_the_migrated_table_holds_the_row_type(db: psycopg.Connection, table: str) -> None:
    row_type = ROW_TYPES[table]
    found = db.execute(
        "SELECT column_name, data_type, is_nullable = 'YES', column_default IS NOT NULL "
        "FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s",
        (table,),
    ).fetchall()
    ddl = {column: (data_type, nullable, has_default) for column, data_type, nullable, has_default in found}
    assert ddl, f"no table {table}"

    for column in row_type.columns:
        assert column in ddl, f"{table}.{column}: written by the ingester, missing from the migrated table"
        data_type, nullable, _ = ddl[column]
        python_type, optional = attribute_type(row_type, column_attribute(column))
        allowed: set[str] = COMPATIBLE[python_type]
        if column in JSON_TEXT_COLUMNS:
            allowed = COMPATIBLE[dict]
        if column in UUID_TEXT_COLUMNS:
            allowed = {"uuid"}
        assert data_type in allowed, f"{table}.{column}: {python_type.__name__} in the row, {data_type} in the table"
        if optional:
            assert nullable, f"{table}.{column}: the row may hold None, the table is NOT NULL"

    unwritten = {c for c, (_, nullable, default) in ddl.items() if not nullable and not default} - set(row_type.columns)
    assert not unwritten, f"{table}: NOT NULL columns without a default that the ingester does not write: {unwritten}"

    unique_keys = {
        tuple(sorted(columns))
        for (columns,) in db.execute(
            "SELECT array_agg(a.attname::text) FROM pg_index i "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = %s::regclass AND i.indisunique AND i.indpred IS NULL GROUP BY i.indexrelid",
            (table,),
        )
    }
    assert tuple(sorted(row_type.key_columns)) in unique_keys, f"{table}: key {row_type.key_columns} is not unique"


@pytest.mark.integration
@pytest.mark.parametrize("table", ["violations", "complaints"])
def test_the_table_allows_exactly_the_sources_its_datasets_declare(db: psycopg.Connection, table: str) -> None:
    declared = {c.source for c in load_datasets().values() if c.target_table == table}
    assert None not in declared, f"{table}: a dataset writing it declares no source"
    checks = [
        definition
        for (definition,) in db.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'c'",
            (table,),
        )
        if re.match(r"CHECK \(+source\b", definition)
    ]
    assert len(checks) == 1, f"{table}: one CHECK on source expected, found {checks}"
    allowed = set(re.findall(r"'([^']*)'::text", checks[0]))
    assert allowed == declared, f"{table}: the table allows {allowed}, the datasets declare {declared}"


def test_the_type_check_itself_reads_fields_and_properties() -> None:
    """attribute_type on what the table check relies on: a plain field, an optional one, a property."""
    violation = ROW_TYPES["violations"]
    assert attribute_type(violation, "source") == (str, False)
    assert attribute_type(violation, "issued_date") == (date, True)
    assert attribute_type(violation, "quality") == (str, True)
    assert attribute_type(violation, "raw") == (dict, False)
