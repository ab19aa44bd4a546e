"""Comments and docstrings say why, never what a run measured: a timing, a ratio or a percentile in a comment goes
stale with the next machine or change, and was refreshed by commits of its own. Figures live in
benchmarks/RESULTS.md (machine, command, date), and a comment points to its section (issue 22)."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# benchmarks/ is where figures belong; the rest of the tree is read.
SCANNED = [
    "sentinel",
    "citysim",
    "actors",
    "cluster",
    "deployments",
    "training",
    "tests",
    "configs",
    "deploy",
    "web/src",
]
SCANNED_FILES = ["Makefile", "pyproject.toml", "ray-cluster.yaml"]
HASH_COMMENTED = {".yaml", ".yml", ".toml", ".sh", ".cfg"}
SLASH_COMMENTED = {".ts", ".tsx", ".css"}
SKIPPED_PARTS = {"__pycache__", "node_modules", "dist"}

_NUM = r"\d[\d,]*(?:\.\d+)?"
_UNIT = r"(?:ns|us|µs|ms|s|sec|seconds?|min|minutes?|h|hours?|[KMG]i?B|%|x|×)"
# Each is a shape that only a measurement takes: sub-second timings, percentiles, "Nx" ratios, a figure turned
# into another by a change, throughputs, and approximate durations (a tilde or "about" before seconds or minutes).
MEASURED = re.compile(
    "|".join(
        [
            rf"(?<![\w.]){_NUM}\s?(?:ns|us|µs|ms)\b",
            r"\bp(?:50|90|95|99)\b",
            rf"(?<![\w.]){_NUM}[x×](?![\w])",
            rf"{_NUM}\s?{_UNIT}?\s*(?:->|→)\s*{_NUM}\s?{_UNIT}(?![\w])",
            rf"{_NUM}\s?(?:rows|requests|req|ops|records|[KMG]i?B)/s\b",
            rf"(?:~|\babout |\broughly |\baround |\bin under )\s?{_NUM}\s?(?:s|sec|seconds?|min|minutes?|hours?)\b",
        ]
    )
)

# (file, figure): a constant of another system that the shapes above cannot tell from a measurement.
NOT_MEASURED = {
    ("citysim/replay/server.py", "40 ms"): "Linux's delayed-ACK timer",
}


def scanned_files() -> list[Path]:
    found = [REPO_ROOT / name for name in SCANNED_FILES]
    for folder in SCANNED:
        found += [p for p in (REPO_ROOT / folder).rglob("*") if p.is_file() and not SKIPPED_PARTS & set(p.parts)]
    return sorted(p for p in found if p.suffix in {".py"} | HASH_COMMENTED | SLASH_COMMENTED or p.name == "Makefile")


def python_prose(source: str) -> Iterator[tuple[int, str]]:
    """Comments and docstrings (every string that stands as a statement), line by line."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for offset, line in enumerate(node.value.value.splitlines()):
                yield node.lineno + offset, line


def other_prose(path: Path, source: str) -> Iterator[tuple[int, str]]:
    """The commented part of each line: after `#` (YAML, TOML, Makefile), after `//` or inside `/* */` (web)."""
    marker = "//" if path.suffix in SLASH_COMMENTED else "#"
    for number, line in enumerate(source.splitlines(), 1):
        if marker in line:
            yield number, line[line.index(marker) :]
        elif marker == "//" and line.lstrip().startswith(("/*", "*")):
            yield number, line


def figures(path: Path) -> list[tuple[str, int, str, str]]:
    """(file, line, figure, the line's prose) of every figure in the file's comments and docstrings."""
    source = path.read_text(encoding="utf-8")
    if not MEASURED.search(source):
        return []  # most files: nothing shaped like a figure anywhere, so none in their prose
    prose = python_prose(source) if path.suffix == ".py" else other_prose(path, source)
    name = path.relative_to(REPO_ROOT).as_posix()
    return [(name, number, match.group(0), text.strip()) for number, text in prose for match in MEASURED.finditer(text)]


def test_no_comment_or_docstring_quotes_a_measured_figure() -> None:
    files = scanned_files()
    assert len(files) > 400  # the scan reads the tree, not an empty folder
    assert sum(1 for p in files if p.suffix == ".py") > 300
    hits = [hit for path in files for hit in figures(path)]
    found = [f"{name}:{line}: {figure!r} in {text[:120]}" for name, line, figure, text in hits]
    found = [line for line, hit in zip(found, hits, strict=True) if (hit[0], hit[2]) not in NOT_MEASURED]
    assert found == [], "move the figure to benchmarks/RESULTS.md and point to its section:\n" + "\n".join(found)
    assert set(NOT_MEASURED) <= {(hit[0], hit[2]) for hit in hits}, "remove from NOT_MEASURED what is gone"


def test_the_patterns_find_the_figures_they_are_for() -> None:
    measured = [
        "# p95 470-850 -> 190 ms",
        "# encodes a row in 2.2 us",
        "# a normalizer's memory peaks at ~15x a page's JSON",
        "# 11 MB -> 4 MB",
        "# about 15 minutes on 2 cores",
        "# 40,000 rows/s on this machine",
    ]
    reasons = [
        "# Python's default switch interval is shorter than a request",
        "# 2 x 2 workers",
        "# a timeout of 30 s",
        "# 23:00 EDT on Oct 31 -> 07:00 EST",
        "# rows 0x1f",
    ]
    assert [line for line in measured if not MEASURED.search(line)] == []
    assert [line for line in reasons if MEASURED.search(line)] == []
