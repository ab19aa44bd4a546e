"""What the revocation check adds to an authenticated request: one read of the cached user state from Redis.

    .venv/bin/python benchmarks/user_state.py [--reads 5000]

Needs Redis on 127.0.0.1:6379 (one key, deleted at the end). The end-to-end figures are benchmarks/serve.py's.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deployments.api.user_states import UserStates
from deployments.cache import Cache
from sentinel.auth.principal import Role
from sentinel.auth.user_state import UserState


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reads", type=int, default=5000)
    args = parser.parse_args()
    prefix = f"vs-bench-{secrets.token_hex(3)}"
    cache = Cache("redis://127.0.0.1:6379/0")
    states = UserStates(pool=None, cache=cache, ttl_seconds=60, prefix=prefix)  # type: ignore[arg-type]
    key = f"{prefix}:user-state:1"
    cache.set_many({key: UserState(1, 1, Role.ADMIN, True, 0).to_bytes()}, 60)
    try:
        for _ in range(200):
            states.cached(1)
        took = []
        for _ in range(args.reads):
            started = time.perf_counter()
            assert states.cached(1) is not None
            took.append(time.perf_counter() - started)
    finally:
        cache.delete([key])
    p50, p95 = statistics.median(took) * 1e3, statistics.quantiles(took, n=20)[18] * 1e3
    print(f"user-state read, {args.reads} in a row: p50 {p50:.3f} ms, p95 {p95:.3f} ms")


if __name__ == "__main__":
    main()
