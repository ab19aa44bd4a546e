"""Route modules hold HTTP concerns only: the SQL lives in the core's query modules (sentinel/<domain>/queries.py
and the like), where the batch jobs, the scheduler and the API share it and a test needs a database, not a server.

Read with `ast`, so the test needs no services and names the file and line of each statement found.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROUTES = ROOT / "deployments" / "api" / "routes"

# A statement's opening words (after any whitespace and parentheses), or one of its clauses anywhere in the string
# ("count(*) FROM t" is a piece of a statement too). Upper case, as the project writes SQL: prose that says "select
# the rows" is not a query.
_STARTS = re.compile(r"^\W*(SELECT|INSERT\s+INTO|UPDATE|DELETE\s+FROM|WITH\s+\w+\s+AS)\b")
_CLAUSE = re.compile(
    r"\b(SELECT\s.+\sFROM|FROM\s+\w+\s+WHERE|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|RETURNING|ON\s+CONFLICT)\b",
    re.DOTALL,
)


def is_sql(text: str) -> bool:
    return bool(_STARTS.match(text) or _CLAUSE.search(text))


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every string literal; an f-string's constant parts are read joined, with its holes as `?`."""
    found: list[tuple[int, str]] = []
    parts_of_fstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "?" for v in node.values)
            found.append((node.lineno, text))
            parts_of_fstrings.update(id(v) for v in node.values)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts_of_fstrings:
            found.append((node.lineno, node.value))
    return found


def sql_in(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    lines = sorted({line for line, text in _strings(tree) if is_sql(text)})
    return [f"{path.relative_to(ROOT)}:{line}" for line in lines]


def _route_files() -> list[Path]:
    return sorted(p for p in ROUTES.glob("*.py") if p.name != "__init__.py")


def test_route_modules_hold_no_sql() -> None:
    files = _route_files()
    # An empty or moved folder must not pass: there are nine route modules today.
    assert len(files) > 5, f"expected the route modules in {ROUTES}, found {[p.name for p in files]}"
    found = [place for path in files for place in sql_in(path)]
    assert not found, "SQL in route modules (move it to a query function of the core):\n" + "\n".join(found)


def test_the_cli_and_the_demo_hold_no_sql() -> None:
    """The commands and the demo orchestrate: what they read and write goes through the core's queries."""
    files = [*sorted((ROOT / "cluster").glob("cli*.py")), ROOT / "cluster" / "demo.py"]
    assert len(files) > 15, [p.name for p in files]
    found = [place for path in files for place in sql_in(path)]
    assert not found, "SQL in the CLI or the demo (move it to a query function of the core):\n" + "\n".join(found)


@pytest.mark.parametrize(
    "text",
    [
        "SELECT 1",
        "  SELECT id, name FROM portfolios WHERE id = %s",
        "(SELECT 'violation' AS kind FROM violations) UNION ALL (SELECT 1)",
        "INSERT INTO alerts (a) VALUES (%s)",
        "UPDATE users SET role = %s",
        "DELETE FROM portfolios WHERE id = %s RETURNING id",
        "WITH months AS (SELECT 1) SELECT * FROM months",
        "count(*) FROM violations WHERE bbl = %s",
        "ON CONFLICT (org_id, name) DO NOTHING",
    ],
)
def test_the_scan_recognises_sql(text: str) -> None:
    assert is_sql(text)


@pytest.mark.parametrize(
    "text",
    [
        "a portfolio named 'x' already exists",
        "select the rows you want",
        "update your password",
        "give q, bbl, bin, address or borough",
        "/v1/portfolios",
    ],
)
def test_the_scan_passes_prose(text: str) -> None:
    assert not is_sql(text)


def test_the_scan_names_the_line_of_an_fstring_statement(tmp_path: Path) -> None:
    source = tmp_path / "route.py"
    source.write_text('x = 1\ncols = "id"\nsql = f"SELECT {cols} FROM t WHERE id = %s"\n')
    tree = ast.parse(source.read_text())
    assert [line for line, text in _strings(tree) if is_sql(text)] == [3]
