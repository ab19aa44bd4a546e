"""Each layer imports only downward: `cluster -> actors, training, deployments -> sentinel`, and sentinel is Ray-free.
The stand-in city (`citysim`: the synthetic city and the replay server) stands beside the core: only the CLI uses it.

Read from the source with `ast` (every import, also those inside functions), so the test needs no services and
fails on the line that breaks the direction. An exception is named in ALLOWED with its reason; the list only
shrinks.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What each top-level package may import from the project (besides itself).
MAY_IMPORT = {
    "sentinel": set(),
    "citysim": set(),
    "actors": {"sentinel"},
    "training": {"sentinel"},
    "deployments": {"sentinel"},
    "cluster": {"sentinel", "actors", "training", "deployments", "citysim"},
}

# Modules that a package, or part of one, must not import, whatever MAY_IMPORT says.
FORBIDDEN = {
    "sentinel": ("ray",),  # the core runs and is tested without Ray
    "deployments.risk": ("deployments.api", "deployments.gateway"),  # the scorer is below the gateway
    "deployments.alerts": ("deployments.api", "deployments.gateway"),
    "actors": ("sentinel.ingest.run",),  # the Ray pipeline and the serial runner share steps, neither owns them
}

# The root of the CLI (cluster/cli.py) only assembles the app from the command modules (cluster/cli_*.py), which
# share cluster/cli_common.py: nothing imports the root back.
CLI_ROOT = "cluster.cli"

# (importing module, imported module or name): why it is still allowed. Remove an entry when its cause is gone.
ALLOWED: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every absolute import; `from a import b` yields `a.b`."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _sources() -> list[Path]:
    return sorted(p for package in MAY_IMPORT for p in (ROOT / package).rglob("*.py"))


def breaks_a_rule(module: str, name: str) -> bool:
    """Whether `module` importing `name` goes up a layer, into a forbidden part, or past a private name."""
    package, top = module.split(".")[0], name.split(".")[0]
    if _under(name, CLI_ROOT) and module != CLI_ROOT:
        return True
    if any(_under(module, part) and any(_under(name, b) for b in banned) for part, banned in FORBIDDEN.items()):
        return True
    if top not in MAY_IMPORT:
        return False
    if top != package and top not in MAY_IMPORT[package]:
        return True
    last = name.split(".")[-1]
    return last.startswith("_") and not last.startswith("__") and not _under(name, module)


@functools.cache  # one scan of the tree for the tests that read it
def _violations() -> tuple[tuple[str, ...], frozenset[tuple[str, str]]]:
    found: list[str] = []
    used: set[tuple[str, str]] = set()
    for path in _sources():
        module = _module_name(path)
        for line, name in _imports(path):
            if not breaks_a_rule(module, name):
                continue
            allowed = next((key for key in ALLOWED if key[0] == module and _under(name, key[1])), None)
            if allowed is not None:
                used.add(allowed)
            else:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return tuple(found), frozenset(used)


def test_the_scan_reads_every_layer() -> None:
    sources = _sources()
    for package in MAY_IMPORT:
        assert sum(1 for p in sources if p.relative_to(ROOT).parts[0] == package) >= 5, package
    assert len(sources) > 150


def test_every_layer_imports_only_downward_and_the_core_has_no_ray() -> None:
    found, _ = _violations()
    assert found == ()


def test_every_allowed_exception_is_still_needed() -> None:
    _, used = _violations()
    assert set(ALLOWED) - used == set(), "remove these from ALLOWED: the import is gone"


@pytest.mark.parametrize(
    ("module", "name", "breaks"),
    [
        ("training.score_job", "cluster.cli_model.score_command", True),
        ("deployments.risk.client", "training.pipeline", True),
        ("actors.ingestion", "deployments.api.app", True),
        ("sentinel.risk.service", "ray.serve", True),
        ("sentinel.risk.service", "ray", True),
        ("deployments.risk.store", "deployments.api.cache.Cache", True),
        ("cluster.cli_x", "cluster.cli._hidden", True),
        ("cluster.cli_demo", "cluster.cli.fail", True),
        ("cluster.cli_demo", "cluster.cli", True),
        ("cluster.scheduler", "cluster.cli.settings_or_exit", True),
        ("cluster.cli_demo", "cluster.cli_common.fail", False),
        ("cluster.cli", "cluster.cli_demo.demo_command", False),
        ("cluster.cli_demo", "cluster.cli_common._private", True),
        ("deployments.risk.store", "deployments.cache.Cache", False),
        ("deployments.risk.deployment", "ray.serve", False),
        ("cluster.scheduler", "training.pipeline", False),
        ("training.pipeline", "sentinel.risk.scoring.score_frame", False),
        ("sentinel.risk.scoring", "raylib.x", False),
        ("actors.ingestion", "sentinel.ingest.run.finish_dataset", True),
        ("cluster.scheduler", "sentinel.ingest.run.run_serial", False),
        ("sentinel.normalize.pluto", "citysim.replay.formats", True),
        ("training.pipeline", "citysim.synth.city", True),
        ("cluster.cli_synth", "citysim.synth.city", False),
    ],
)
def test_the_rules_catch_an_upward_import(module: str, name: str, breaks: bool) -> None:
    assert breaks_a_rule(module, name) is breaks


def test_the_cli_root_only_assembles_the_commands() -> None:
    tree = ast.parse((ROOT / "cluster" / "cli.py").read_text())
    functions = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    assert functions == {"_options", "main"}  # the global --log-json option and the entry point; commands live apart
    commands = sorted(p.stem for p in (ROOT / "cluster").glob("cli_*.py"))
    assert len(commands) >= 15, commands
    root_imports = [name for _, name in _imports(ROOT / "cluster" / "cli.py")]
    mounted = {name.split(".")[1] for name in root_imports if name.startswith("cluster.cli_")}
    assert mounted == set(commands) - {"cli_common"}  # every command module is mounted; the shared one is no command
