"""Small helpers shared by the dataset modules."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

NEVER = 10**7  # a day number far beyond any simulated day: "this step never happens"


def pick(
    rng: np.random.Generator, n: int, choices: list[str] | tuple[str, ...], p: list[float] | None = None
) -> list[str]:
    """n draws from choices, as Python strings (fast to use in the row loops)."""
    idx = rng.choice(len(choices), size=n, p=None if p is None else np.asarray(p) / np.sum(p))
    return [choices[i] for i in idx.tolist()]


def later(rng: np.random.Generator, base: np.ndarray, mean_days: float, minimum: int = 1) -> np.ndarray:
    """base + an exponential delay of at least `minimum` days."""
    return base + minimum + rng.exponential(mean_days, size=len(base)).astype(np.int64)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def encode(row: dict[str, Any]) -> bytes:
    """One API JSON row: null fields omitted."""
    return orjson.dumps({k: v for k, v in row.items() if v is not None})


def plain(*texts: str) -> None:
    """Check that constants stand inside a JSON string as they are. The row templates of the big datasets
    (HPD violations and complaints, 311) write such constants between quotes without encoding them, so a quote,
    backslash or control character added to a catalog must fail at import, not produce broken JSON."""
    for text in texts:
        if orjson.dumps(text) != f'"{text}"'.encode():
            raise ValueError(f"needs JSON escaping, cannot go into a row template: {text!r}")
