"""Our own directives in the HAProxy that Ray Serve generates and runs (`VS_SERVE_INGRESS=haproxy`).

Ray renders haproxy.cfg from a fixed template that has no place for extra directives, and rewrites it whenever
replicas come and go. What it does let us choose is the binary (`RAY_SERVE_HAPROXY_BINARY_PATH`), so that is the
hook: `install` writes a small launcher there which adds `FRONTEND_RULES` to the HTTP frontend of the file HAProxy
was given, then execs the real HAProxy. Every start and every reload goes through it, so every rewrite of the
file gets the rules again.

Stdlib only: the launcher runs this file in an isolated interpreter (`python -I -S`) for each HAProxy start.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path

FRONTEND = "frontend http_frontend"
MARKER = "    # vsentinel rules"
# Ray's template passes no client address: every request would reach the gateway from HAProxy's own, one shared
# bucket for every per-address limit. `set-header` (not `option forwardfor`, which appends) replaces whatever the
# client wrote: HAProxy is the edge, and the one address it can vouch for is the peer's. The gateway believes it
# from loopback (deployments/gateway.py) or from VS_API_TRUSTED_PROXIES.
FORWARDED_FOR_RULE = "http-request set-header X-Forwarded-For %[src]"


def frontend_rules(max_body_bytes: int) -> list[str]:
    """The lines added to Ray's HTTP frontend, evaluated before Ray's own rules."""
    body = json.dumps(
        {
            "error": {
                "code": "payload_too_large",
                "message": f"the request body is larger than {max_body_bytes} bytes",
                "details": {"max_bytes": max_body_bytes},
            },
            "request_id": None,
        }
    )
    quoted = body.replace("\\", "\\\\").replace('"', '\\"')
    return [
        FORWARDED_FOR_RULE,
        # A declared body over the limit is answered here, before a byte of it reaches a replica; a chunked body
        # (no Content-Length) is counted by the app itself (BodyLimitMiddleware).
        f'http-request return status 413 content-type application/json string "{quoted}" '
        f"if {{ req.hdr_val(content-length) gt {max_body_bytes} }}",
    ]


def add_rules(config: str, rules: list[str]) -> str:
    """`config` with `rules` right after the bind line of Ray's HTTP frontend (unchanged if already there)."""
    if MARKER in config:
        return config
    lines = config.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.strip() == FRONTEND:
            bind = index + 1
            while bind < len(lines) and not lines[bind].strip().startswith("bind "):
                bind += 1
            if bind == len(lines):
                break
            added = [MARKER + "\n", *(f"    {rule}\n" for rule in rules)]
            return "".join([*lines[: bind + 1], *added, *lines[bind + 1 :]])
    raise ValueError(f"no {FRONTEND!r} with a bind line in the HAProxy configuration")


def _config_path(args: list[str]) -> Path | None:
    for flag, value in itertools.pairwise(args):
        if flag == "-f":
            return Path(value)
    return None


def launch(real_haproxy: str, rules_file: Path, args: list[str]) -> None:
    """Adds the rules to the configuration named by `-f`, then becomes HAProxy with the same arguments."""
    config = _config_path(args)
    if config is not None and config.exists():
        rules = json.loads(rules_file.read_text())
        # Ray writes the file under this lock; hold it so a concurrent rewrite is not half-read or overwritten.
        with open(f"{config}.lock", "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            text = config.read_text()
            updated = add_rules(text, rules)
            if updated != text:
                config.write_text(updated)
    os.execv(real_haproxy, [real_haproxy, *args])  # noqa: S606 -- the binary Ray would have run, its own args


def install(real_haproxy: str, max_body_bytes: int, directory: Path | None = None) -> Path:
    """Writes the launcher (and its rules) to `directory` (a new temporary one by default); returns its path."""
    target = Path(directory or tempfile.mkdtemp(prefix="vs-haproxy-"))
    target.mkdir(parents=True, exist_ok=True)
    rules_file = target / "frontend-rules.json"
    rules_file.write_text(json.dumps(frontend_rules(max_body_bytes)))
    launcher = target / "haproxy"
    command = [sys.executable, "-I", "-S", str(Path(__file__).resolve()), real_haproxy, str(rules_file)]
    launcher.write_text(f'#!/bin/sh\nexec {shlex.join(command)} "$@"\n')
    launcher.chmod(0o755)
    return launcher


if __name__ == "__main__":
    launch(sys.argv[1], Path(sys.argv[2]), sys.argv[3:])
