"""The one way library code gives variables to processes it cannot hand an environment to.

Library code never writes the process environment for good (README: "Running on a cluster"): a variable set for
one purpose would reach every later subprocess, Ray worker and library of the process. Where a third-party call
takes its settings only from the environment of the process at that moment (`ray.init` starting a local Ray, whose
GCS, raylet and workers inherit it; a library that reads a path at import), `overridden` sets them for the call and
gives the process its own environment back.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping


@contextlib.contextmanager
def overridden(variables: Mapping[str, str]) -> Iterator[None]:
    """`variables` in the environment for the block; each variable's value before (or its absence) after it."""
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
