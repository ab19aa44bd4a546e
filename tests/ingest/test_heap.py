"""keep_freed_memory: a page's allocations freed and made again are not faulted in from the kernel a second time;
one the size of the parser's scratch gets a mapping of its own every time, so it leaves no hole in the heap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sentinel.ingest.heap import SCRATCH_MMAP_THRESHOLD

ROOT = Path(__file__).resolve().parents[2]
# Run in a fresh interpreter: mallopt() changes the whole process, and pytest's own heap would blur the counts.
_PROBE = """
import resource, sys
from sentinel.ingest.heap import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
size, count = int(sys.argv[2]), int(sys.argv[3])
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
counts = []
for _ in range(3):
    before = faults()
    blocks = [b"x" * size for _ in range(count)]  # malloc + write: every page of them touched
    del blocks
    counts.append(faults() - before)
print(kept, counts[0], counts[2])
"""
# A page's large allocations besides the scratch: its body, its COPY text and that text's copy as bytes.
BODY, BODIES = 16 << 20, 3
SCRATCH = 64 << 20  # orjson's scratch for a page


def _faults(mode: str, size: int, count: int) -> tuple[str, int, int]:
    args = [sys.executable, "-c", _PROBE, mode, str(size), str(count)]
    kept, first, third = subprocess.run(args, capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()
    return kept, int(first), int(third)


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")


@linux_only
def test_a_freed_page_is_reused_without_faulting_it_in_again() -> None:
    pages = BODY * BODIES // 4096
    kept, first, third = _faults("keep", BODY, BODIES)
    assert kept == "True"
    assert first > pages // 2  # the first time, the memory comes from the kernel
    assert third < pages // 20  # later, from the heap it was freed into


@linux_only
def test_without_it_glibc_trims_the_page_and_faults_it_in_again() -> None:
    pages = BODY * BODIES // 4096
    _, first, third = _faults("default", BODY, BODIES)
    assert first > pages // 2
    assert third > pages // 4


@linux_only
def test_a_scratch_sized_allocation_is_mapped_and_handed_back_every_time() -> None:
    assert BODY < SCRATCH_MMAP_THRESHOLD <= SCRATCH
    pages = SCRATCH // 4096
    kept, first, third = _faults("keep", SCRATCH, 1)
    assert kept == "True"
    assert first > pages // 2
    assert third > pages // 2  # not kept: the heap holds no scratch-sized hole for later pages to spread into
