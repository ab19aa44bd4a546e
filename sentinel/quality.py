"""Field-level data problems, kept on the row and counted per run.

Normalizers record a problem as a warning "<field>: <reason>" (sentinel/dates.py, money.py, numbers.py and the
dataset modules), where the reason ends with the offending value as Python repr. Here a warning becomes what is
stored and counted: per row {field, raw, reason} with the value exactly as the source sent it (the column itself
may have become NULL); per run a count by field and by reason with the values left out, so a thousand different
garbage dates are one reason counted a thousand times.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

_QUOTED = re.compile(r"""\s*(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")


def split_warning(warning: str) -> tuple[str, str]:
    """('novissueddate', "unrecognized date format '2023-02-30T'") from a normalizer's warning."""
    field, sep, reason = warning.partition(": ")
    return (field, reason) if sep else ("record", warning)


def reason_kind(reason: str) -> str:
    """The reason without the values it quotes: what a run's counts are grouped by."""
    return " ".join(_QUOTED.sub("", reason).split()).strip(" ,:") or reason


def row_problems(warnings: Iterable[str], raw: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    problems = []
    for warning in warnings:
        field, reason = split_warning(warning)
        value = raw.get(field) if raw is not None else None
        problems.append({"field": field, "raw": value, "reason": reason})
    return problems


def quality_json(warnings: list[str], raw: Mapping[str, Any] | None) -> str | None:
    """A row's `quality` column as JSON text, None for a clean row (almost every row: nothing is built)."""
    if not warnings:
        return None
    return orjson.dumps(row_problems(warnings, raw)).decode()


def count_warnings(counts: dict[tuple[str, str], int], warnings: Iterable[str]) -> None:
    for warning in warnings:
        field, reason = split_warning(warning)
        key = (field, reason_kind(reason))
        counts[key] = counts.get(key, 0) + 1


def nested(counts: Mapping[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    """{field: {reason: n}}: the shape kept in `ingestion_runs.stats`."""
    out: dict[str, dict[str, int]] = {}
    for (field, reason), n in sorted(counts.items()):
        out.setdefault(field, {})[reason] = n
    return out


def merge_counts(into: dict[tuple[str, str], int], more: Mapping[tuple[str, str], int]) -> None:
    for key, n in more.items():
        into[key] = into.get(key, 0) + n
