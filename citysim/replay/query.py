"""SODA 2.1 `/resource/{id}` queries: request parameters -> one SQLite query -> JSON or CSV body."""

# SQL is built from quoted identifiers (quote_ident) and escaped literals (sql_str) or bound parameters.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from citysim.replay.dataset_stores import AnyStore
from citysim.replay.errors import SodaError, dataset_missing, malformed, soql_error
from citysim.replay.schemas import SYSTEM_FIELDS, schema_for
from citysim.replay.soql import (
    BinOp,
    Col,
    Compiled,
    Compiler,
    Expr,
    InList,
    Lit,
    SelectItem,
    Star,
    default_alias,
    parse_group,
    parse_order,
    parse_select,
    parse_where,
    sql_str,
)
from citysim.replay.store import Table, column_sql, quote_ident

DEFAULT_LIMIT = 1000
JSON_TYPE = "application/json;charset=utf-8"
CSV_TYPE = "text/csv; charset=UTF-8"
_SYSTEM_ORDER = (":id", ":created_at", ":updated_at")
_KNOWN_PARAMS = frozenset(
    {"$select", "$where", "$order", "$group", "$having", "$limit", "$offset", "$q", "$$app_token"}
)
_SYSTEM_HEADER_TYPE = "meta_data"  # what X-SODA2-Types says for system fields


@dataclass(frozen=True)
class QueryResult:
    chunks: list[bytes]  # the body, in pieces written one after another
    content_type: str
    fields: list[str]
    types: list[str]
    row_count: int


@dataclass(frozen=True)
class _Output:
    alias: str
    compiled: Compiled
    json_column: bool  # value is stored JSON (point, checkbox) to embed as-is


def run_query(store: AnyStore, dataset_id: str, params: Sequence[tuple[str, str]], fmt: str = "json") -> QueryResult:
    table = store.tables.get(dataset_id)
    if table is None:
        raise dataset_missing(dataset_id)
    q = _split_params(params)
    compiler = Compiler(dataset_id, table.types, column_sql)

    items = parse_select(q["$select"]) if "$select" in q else [SelectItem(Star(False, 0), None, 0)]
    if q.get("$$exclude_system_fields", "").lower() == "false" and "$select" not in q:
        items = [SelectItem(Star(True, 0), None, 0), *items]
    fast_system = _fast_path_system_fields(items) if fmt == "json" and "$group" not in q else None
    outputs = [] if fast_system is not None else _expand_select(items, table, compiler)

    filter_ast = parse_where(q["$where"]) if q.get("$where", "").strip() else None
    where = _where_clause(q, filter_ast, compiler)
    order_by_index = filter_ast is None or not _or_of_indexed(
        filter_ast, set(schema_for(dataset_id).indexed) & set(table.types)
    )
    group = [compiler.compile(e).sql for e in parse_group(q["$group"])] if "$group" in q else []
    having = compiler.compile(parse_where(q["$having"])).sql if "$having" in q else None
    aggregate = bool(group) or any(o.compiled.aggregate for o in outputs)
    order = _order_clause(q.get("$order"), outputs, compiler, aggregate)
    limit = _int_param(q, "$limit", DEFAULT_LIMIT)
    offset = _int_param(q, "$offset", 0)

    if fast_system is not None:
        select_sql = ", ".join([*(column_sql(f) for f in fast_system), "__doc"])
    else:
        select_sql = ", ".join(o.compiled.sql for o in outputs)
    sql = f"SELECT {select_sql} FROM {quote_ident(table.name)}"
    if where:
        sql += " WHERE " + " AND ".join(f"({w})" for w in where)
    if group:
        sql += " GROUP BY " + ", ".join(group)
    if having:
        sql += f" HAVING {having}"
    if order:
        # `+` keeps SQLite from walking an index in the order asked (it then reads the filter's index ranges and
        # sorts what they hold): see _or_of_indexed.
        sql += " ORDER BY " + ", ".join(order if order_by_index else (f"+{key}" for key in order))
    sql += f" LIMIT {limit} OFFSET {offset}"

    try:
        rows = store.dataset_connection(dataset_id, raw=fast_system is not None).execute(sql).fetchall()
    except Exception as exc:  # SQLite rejects what the SoQL checks let through (e.g. bad grouping)
        raise soql_error("query.soql.invalid", f"Cannot run query: {exc}") from exc

    if fast_system is not None:
        chunks = _doc_body(rows, fast_system)
        fields = [*fast_system, *table.fields]
        types = [_SYSTEM_HEADER_TYPE] * len(fast_system) + [t for _, t in table.columns]
        return QueryResult(chunks, JSON_TYPE, fields, types, len(rows))
    fields = [o.alias for o in outputs]
    types = [_SYSTEM_HEADER_TYPE if o.alias in SYSTEM_FIELDS else _header_type(o.compiled) for o in outputs]
    if fmt == "csv":
        return QueryResult([_csv_body(rows, outputs)], CSV_TYPE, fields, types, len(rows))
    return QueryResult([_json_body(rows, outputs)], JSON_TYPE, fields, types, len(rows))


def _split_params(params: Sequence[tuple[str, str]]) -> dict[str, Any]:
    q: dict[str, Any] = {"filters": []}
    for k, v in params:
        if k.startswith("$$"):
            q[k] = v
        elif k.startswith("$"):
            if k not in _KNOWN_PARAMS:
                raise soql_error("query.soql.malformed", f"Unrecognized arguments [{k[1:]}]", {"parameter": k})
            q[k] = v
        else:
            q["filters"].append((k, v))
    return q


def _int_param(q: dict[str, Any], name: str, default: int) -> int:
    raw = q.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise malformed(f"{name} must be a non-negative integer, got {raw!r}") from None
    if value < 0:
        raise malformed(f"{name} must be a non-negative integer, got {raw!r}")
    return value


def _fast_path_system_fields(items: list[SelectItem]) -> list[str] | None:
    """For `*`, `:*,*`, `:id,:updated_at,*`...: the system fields to prefix to the stored JSON, else None."""
    if not items or not isinstance(items[-1].expr, Star) or items[-1].expr.system:
        return None
    system: list[str] = []
    for item in items[:-1]:
        if isinstance(item.expr, Star) and item.expr.system:
            system.extend(f for f in _SYSTEM_ORDER if f not in system)
        elif isinstance(item.expr, Col) and item.expr.name in SYSTEM_FIELDS and item.alias is None:
            if item.expr.name not in system:
                system.append(item.expr.name)
        else:
            return None
    return system


_CHUNK_ROWS = 1000


def _doc_body(rows: list[tuple[bytes, ...]], system: list[str]) -> list[bytes]:
    """The JSON page from stored row JSON (bytes), with system fields spliced in front: no re-serialization.

    Returned as ~1 MB chunks: joining a 50k-row page into one buffer costs more than the query itself."""
    if system:
        # System field values are ids and timestamps (no quotes or backslashes), so they need no JSON escaping.
        head = b"{" + b",".join(b'"' + f.encode() + b'":"%s"' for f in system)
        with_fields, without = head + b",%s", head + b"}"
        n = len(system)
        docs = [with_fields % (*r[:n], r[n][1:]) if r[n] != b"{}" else without % r[:n] for r in rows]
    else:
        docs = [r[0] for r in rows]
    chunks = [b"\n,".join(docs[i : i + _CHUNK_ROWS]) for i in range(0, len(docs), _CHUNK_ROWS)]
    if not chunks:
        return [b"[]\n"]
    chunks[0] = b"[" + chunks[0]
    chunks[-1] += b"]\n"
    for i in range(1, len(chunks)):
        chunks[i] = b"\n," + chunks[i]
    return chunks


def _expand_select(items: list[SelectItem], table: Table, compiler: Compiler) -> list[_Output]:
    outputs: list[_Output] = []
    for item in items:
        if isinstance(item.expr, Star):
            names = list(_SYSTEM_ORDER) if item.expr.system else table.fields
            for name in names:
                outputs.append(_Output(name, compiler.compile(Col(name, item.pos)), name in table.json_columns))
            continue
        compiled = compiler.compile(item.expr)
        alias = item.alias or default_alias(item.expr)
        is_json = isinstance(item.expr, Col) and compiler.resolve(item.expr.name, 0) in table.json_columns
        outputs.append(_Output(alias, compiled, is_json))
    return outputs


def _where_clause(q: dict[str, Any], filter_ast: Expr | None, compiler: Compiler) -> list[str]:
    where: list[str] = []
    if filter_ast is not None:
        where.append(compiler.compile(filter_ast).sql)
    for k, v in q["filters"]:
        name = compiler.resolve(k, 0)
        col = Col(name, 0)
        where.append(compiler.compile_comparison(col, "=", Lit(v, "text", 0)))
    if q.get("$q"):
        for term in q["$q"].split():
            where.append(f"instr(lower(__doc), lower({sql_str(term)})) > 0")
    return where


def _or_of_indexed(where: Expr, indexed: set[str]) -> bool:
    """The filter ANDs an OR whose every term compares an indexed field with a literal (DOB complaints' partial
    read: `key > X OR date_entered IN (...) OR ...`). SQLite 3.40 (no STAT4) then prefers walking the `:id` index
    in order through the whole table, parsing every row's JSON for the filter, over reading the few rows the
    terms' indexes name and sorting them, ~100 times slower at 10 % of the city (benchmarks/RESULTS.md, "Packing
    with zstd")."""
    if isinstance(where, BinOp) and where.op == "and":
        return _or_of_indexed(where.left, indexed) or _or_of_indexed(where.right, indexed)
    return (
        isinstance(where, BinOp) and where.op == "or" and all(_compares_indexed(t, indexed) for t in _or_terms(where))
    )


def _or_terms(e: Expr) -> list[Expr]:
    return _or_terms(e.left) + _or_terms(e.right) if isinstance(e, BinOp) and e.op == "or" else [e]


def _compares_indexed(e: Expr, indexed: set[str]) -> bool:
    if isinstance(e, BinOp) and e.op == "and":  # a key range: `key > X AND key < Y`
        return _compares_indexed(e.left, indexed) and _compares_indexed(e.right, indexed)
    if isinstance(e, InList):
        return not e.negated and isinstance(e.expr, Col) and e.expr.name in indexed
    if isinstance(e, BinOp) and e.op in ("=", "<", "<=", ">", ">="):
        sides = (e.left, e.right)
        return any(isinstance(x, Col) and x.name in indexed for x in sides) and any(isinstance(x, Lit) for x in sides)
    return False


def _order_clause(raw: str | None, outputs: list[_Output], compiler: Compiler, aggregate: bool) -> list[str]:
    if not raw or not raw.strip():
        return [] if aggregate else ["__rid"]  # unordered on Socrata; here the order rows were last written
    by_alias = {o.alias: o.compiled for o in outputs}
    keys: list[str] = []
    for expr, desc in parse_order(raw):
        if isinstance(expr, Col) and expr.name in by_alias and expr.name not in compiler.types:
            c = by_alias[expr.name]
        else:
            c = compiler.compile(expr)
        sql = compiler.order_operand(c)
        direction = " DESC" if desc else ""
        if isinstance(expr, Col) and expr.name in SYSTEM_FIELDS:
            keys.append(sql + direction)  # never null; a bare column lets SQLite walk its index
        else:
            # Socrata (PostgreSQL) puts nulls last ascending and first descending.
            keys.append(sql + direction + (" NULLS FIRST" if desc else " NULLS LAST"))
    return keys


def _header_type(c: Compiled) -> str:
    return {"boolean": "checkbox", "null": "text"}.get(c.type, c.type)


def _converters(outputs: list[_Output]) -> list[Callable[[Any], Any]]:
    convs: list[Callable[[Any], Any]] = []
    for o in outputs:
        if o.json_column:
            convs.append(_json_cell)
        elif o.compiled.type == "boolean":
            convs.append(lambda v: None if v is None else bool(v))
        else:
            convs.append(_text_cell)
    return convs


def _text_cell(v: Any) -> Any:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _json_cell(v: Any) -> Any:
    if isinstance(v, str) and (v in ("true", "false") or v[:1] in ("{", "[")):
        return orjson.Fragment(v)
    return v


def _json_body(rows: list[tuple[Any, ...]], outputs: list[_Output]) -> bytes:
    aliases = [o.alias for o in outputs]
    convs = _converters(outputs)
    parts = []
    for r in rows:
        doc = {a: c(v) for a, c, v in zip(aliases, convs, r, strict=True) if v is not None}
        parts.append(orjson.dumps(doc))
    return b"[" + b"\n,".join(parts) + b"]\n"


def _csv_body(rows: list[tuple[Any, ...]], outputs: list[_Output]) -> bytes:
    convs = [_csv_point if o.compiled.type == "point" else _text_cell for o in outputs]
    lines = [",".join(_csv_quote(o.alias) for o in outputs)]
    for r in rows:
        cells = []
        for c, v in zip(convs, r, strict=True):
            v = c(v)
            cells.append("" if v is None else _csv_quote(str(v).lower() if isinstance(v, bool) else str(v)))
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()


def _csv_quote(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def _csv_point(v: Any) -> Any:
    if isinstance(v, str) and v.startswith("{"):
        try:
            lon, lat = orjson.loads(v)["coordinates"]
        except (orjson.JSONDecodeError, KeyError, ValueError, TypeError):
            return v
        return f"POINT ({lon} {lat})"
    return v


def ensure_dataset(store: AnyStore, dataset_id: str) -> Table:
    table = store.tables.get(dataset_id)
    if table is None:
        raise dataset_missing(dataset_id)
    return table


__all__ = ["CSV_TYPE", "JSON_TYPE", "QueryResult", "SodaError", "ensure_dataset", "run_query"]
