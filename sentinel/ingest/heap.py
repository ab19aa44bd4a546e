"""Keeping a page's freed memory for the next page instead of handing it back to the kernel.

A normalizer handles pages of one size over and over. orjson parses a page (10k rows, ~11 MB of JSON) into a
scratch buffer of ~12x its size that glibc maps for the page and unmaps after it, and glibc trims the page's
freed heap back to the kernel: the next page faults all of that memory in again, page by page, zeroed by the
kernel. Raising glibc's mmap and trim thresholds keeps it in the process's heap (normalizers went from 1.42 to
0.42 minor faults and from 3.0 to 1.2 us of kernel time per row, benchmarks/RESULTS.md); what stays resident
is what the largest page touched.
"""

from __future__ import annotations

import ctypes

# mallopt() parameters, from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
DEFAULT_THRESHOLD = 1 << 30


def keep_freed_memory(threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Allocations below `threshold` come from the heap, and the heap is returned to the kernel only when more
    than `threshold` of it is free. False where the C library is not glibc (nothing changed there)."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # the symbols the process has loaded, libc's among them
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, threshold))
