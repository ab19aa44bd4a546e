"""Any query as CSV written by PostgreSQL: `COPY (query) TO STDOUT`, every cell quoted and text cells escaped
against formula injection. The API's exports (deployments/api/exports.py) stream what this starts."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg
from psycopg import sql

# OWASP's CSV injection guidance: a spreadsheet reads a cell starting with = + - @ as a formula, and TAB, CR or LF
# first may be trimmed into one; leading spaces do not stop every spreadsheet either. Such a text cell gets a
# leading apostrophe, which spreadsheets take as "this is text" and do not display. Every cell is also quoted
# (FORCE_QUOTE *), embedded quotes doubled, so a separator inside a value (`;=1+2` in a semicolon locale) cannot
# start a cell of its own. Only text columns are escaped: a negative amount stays a number.
FORMULA_START = r"^ *[-=+@\t\r\n]"
_TEXT_TYPES = {"text", "varchar", "bpchar", "name"}


def csv_copy(
    conn: psycopg.Connection[Any], query: str, params: Sequence[Any], *, timeout_s: float
) -> AbstractContextManager[psycopg.Copy]:
    """The COPY of `query` as a context manager whose reads return CSV; one statement streams the whole result, so
    its statement_timeout (for this transaction) bounds the export."""
    conn.execute("SELECT set_config('statement_timeout', %s, true)", (f"{timeout_s * 1000:.0f}",))
    return conn.cursor().copy(copy_statement(conn, query, params), params)


def copy_statement(conn: psycopg.Connection[Any], query: str, params: Sequence[Any]) -> sql.Composed:
    """COPY of `query` in CSV with a header, every cell quoted, text cells escaped against formula injection."""
    # The result's column names and types, without running the query.
    probe = f"SELECT * FROM ({query}) AS q LIMIT 0"  # noqa: S608 -- our own constant queries; values are bound
    columns = []
    for column in conn.execute(probe, params).description or ():
        name = sql.Identifier(column.name)
        known = conn.adapters.types.get(column.type_code)
        if known is not None and known.name in _TEXT_TYPES:
            expression = "CASE WHEN q.{n} ~ {p} THEN '''' || q.{n} ELSE q.{n}::text END AS {n}"
            columns.append(sql.SQL(expression).format(n=name, p=sql.Literal(FORMULA_START)))
        else:
            columns.append(sql.SQL("q.{}").format(name))
    # A subquery's ORDER BY is kept by a plain scan over it (no join or aggregate on top).
    copy = "COPY (SELECT {} FROM ({}) AS q) TO STDOUT WITH (FORMAT csv, HEADER true, FORCE_QUOTE *)"
    return sql.SQL(copy).format(sql.SQL(", ").join(columns), sql.SQL(query))  # type: ignore[arg-type]
