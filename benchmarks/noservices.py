"""A pytest plugin that takes every service away, to show that `make test-fast` needs none (benchmarks/RESULTS.md,
"`make test-fast` without services"): connections to PostgreSQL's and Redis's ports are refused, `psycopg.connect`
and the embedded PostgreSQL and Redis raise, and so does `ray.init` (patched when Ray is first imported, so a run
that never imports Ray does not pay for it here).

    PYTHONPATH=benchmarks PYTEST_ADDOPTS="-p noservices" VS_DATABASE_URL=postgresql://x@127.0.0.1:5999/none \\
        make test-fast
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import socket
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any, NoReturn

import pytest

REFUSED_PORTS = frozenset({5432, 6379})
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _refused(address: Any) -> bool:
    if isinstance(address, tuple):
        return len(address) >= 2 and address[1] in REFUSED_PORTS
    return any(part in str(address) for part in (".s.PGSQL", "redis"))  # the embedded servers' Unix sockets


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if _refused(address):
        raise ConnectionRefusedError(f"noservices: {address!r}")
    _connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    return 111 if _refused(address) else _connect_ex(self, address)  # 111: ECONNREFUSED


def _refuse(what: str, error: type[Exception] = RuntimeError) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise error(f"noservices: {what} refused")

    return refuse


class _RayGuard(importlib.abc.MetaPathFinder):
    """Replaces `ray.init` as soon as `ray` is imported."""

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if name != "ray":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("ray")
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        load = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            load(module)
            module.init = _refuse("ray.init")  # type: ignore[attr-defined]

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def pytest_configure(config: pytest.Config) -> None:
    import psycopg

    import sentinel.embedded

    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    psycopg.connect = _refuse("psycopg.connect", psycopg.OperationalError)  # as an unreachable server answers
    sentinel.embedded._start_postgres = _refuse("embedded PostgreSQL")
    sentinel.embedded._start_redis = _refuse("embedded Redis")
    if "ray" in sys.modules:
        sys.modules["ray"].init = _refuse("ray.init")
    else:
        sys.meta_path.insert(0, _RayGuard())
