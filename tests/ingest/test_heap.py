"""keep_freed_memory: a page-sized allocation freed and made again is not faulted in from the kernel a second time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Run in a fresh interpreter: mallopt() changes the whole process, and pytest's own heap would blur the counts.
_PROBE = """
import resource, sys
from sentinel.ingest.heap import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
counts = []
for _ in range(3):
    before = faults()
    page = b"x" * (64 << 20)  # malloc + write: every page of it touched
    del page
    counts.append(faults() - before)
print(kept, counts[0], counts[2])
"""


def _faults(mode: str) -> tuple[str, int, int]:
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True, cwd=ROOT)
    kept, first, third = out.stdout.split()
    return kept, int(first), int(third)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_a_freed_page_is_reused_without_faulting_it_in_again() -> None:
    pages = (64 << 20) // 4096
    kept, first, third = _faults("keep")
    assert kept == "True"
    assert first > pages // 2  # the first time, the memory comes from the kernel
    assert third < pages // 20  # later, from the heap it was freed into


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_without_it_glibc_hands_the_memory_back_and_faults_it_in_every_time() -> None:
    pages = (64 << 20) // 4096
    _, first, third = _faults("default")
    assert first > pages // 2
    assert third > pages // 2
