"""Keeping a page's freed memory for the next page instead of handing it back to the kernel, but not the parser's
oversized scratch.

A normalizer handles pages of one size over and over. By default glibc trims the page's freed heap back to the
kernel, and the next page faults all of that memory in again, page by page, zeroed by the kernel. Raising glibc's
trim threshold keeps it in the process's heap, which cuts the page faults and kernel time per row.

orjson parses a page with a scratch buffer many times the size of the JSON, of which it touches a small part. Kept
in the heap (the mmap threshold raised with the trim threshold, as it was at first), that buffer left each
normalizer's heap mostly free space; the next pages' allocations shifted the hole around, so the part of it ever
touched, and resident, grew with the rows a normalizer saw. Allocations from `SCRATCH_MMAP_THRESHOLD` up get a
mapping of their own that is unmapped when freed: the parser's scratch is faulted in again on every page, and each
heap stays small however long the load. Everything else a page allocates (its body, its COPY text) is below the
threshold and stays. Figures: benchmarks/RESULTS.md, "Ingestion" ("The parser's scratch mapped, not kept in the
heap").
"""

from __future__ import annotations

import ctypes

# mallopt() parameters, from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
TRIM_THRESHOLD = 1 << 30
# Above a 10k-row HPD page's body and COPY text (11 and 14 MB), below the parser's scratch for a page of more
# than ~2,500 rows.
SCRATCH_MMAP_THRESHOLD = 32 << 20


def keep_freed_memory(mmap_threshold: int = SCRATCH_MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Allocations below `mmap_threshold` come from the heap, and the heap is returned to the kernel only when more
    than `trim_threshold` of it is free. False where the C library is not glibc (nothing changed there)."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # the symbols the process has loaded, libc's among them
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold))


def limit_arenas(count: int = 2) -> bool:
    """At most `count` malloc arenas in this process. glibc gives threads arenas of their own (up to 8 per core),
    each keeping what its thread freed: a process whose threads pass pages along (the local engine's fetch and
    write threads, sentinel/ingest/local_engine.py) holds a page's worth of memory per arena. False where the C
    library is not glibc."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    return mallopt is not None and bool(mallopt(_M_ARENA_MAX, count))
