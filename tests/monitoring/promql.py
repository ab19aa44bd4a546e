"""PromQL checks without promtool: parse an expression with promql-parser (the Rust parser Prometheus-compatible
tools use) and list the metrics it reads and the thresholds it compares against."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import promql_parser

# Series Prometheus makes itself for every target: no exporter serves them.
PROMETHEUS_MADE = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})


def parse(expr: str) -> Any:
    """The expression's syntax tree; ValueError with the parser's message when it is not valid PromQL."""
    return promql_parser.parse(expr)


def nodes(node: Any) -> Iterator[Any]:
    yield node
    for attribute in ("lhs", "rhs", "expr", "param", "vector_selector"):
        child = getattr(node, attribute, None)
        if child is not None and not isinstance(child, str | int | float):
            yield from nodes(child)
    for arg in getattr(node, "args", None) or ():
        yield from nodes(arg)


def metric_names(expr: str) -> set[str]:
    names = set()
    for node in nodes(parse(expr)):
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name or next((m.value for m in node.matchers.matchers if m.name == "__name__"), None)
            if not name:
                raise ValueError(f"a selector without a metric name in {expr!r}")
            names.add(name)
    return names


COMPARISONS = frozenset({">", "<", ">=", "<=", "==", "!="})
ARITHMETIC = {"+": float.__add__, "-": float.__sub__, "*": float.__mul__, "/": float.__truediv__}


def comparisons(expr: str) -> list[tuple[str, float]]:
    """(operator, number) of every comparison against a constant: `x > 36 * 3600` gives (">", 129600.0)."""
    out = []
    for node in nodes(parse(expr)):
        if isinstance(node, promql_parser.BinaryExpr) and str(node.op) in COMPARISONS:
            value = constant(node.rhs)
            if value is not None:
                out.append((str(node.op), value))
    return out


def constant(node: Any) -> float | None:
    """The value of a constant subexpression (numbers and arithmetic on them), else None."""
    if isinstance(node, promql_parser.NumberLiteral):
        return float(node.val)
    if isinstance(node, promql_parser.ParenExpr):
        return constant(node.expr)
    if isinstance(node, promql_parser.BinaryExpr) and str(node.op) in ARITHMETIC:
        lhs, rhs = constant(node.lhs), constant(node.rhs)
        if lhs is not None and rhs is not None:
            return ARITHMETIC[str(node.op)](lhs, rhs)
    return None
