"""Process memory for long-running servers: give freed heap memory back to the OS.

A server loads and evicts schools' vector graphs (~3.6 MB each) all day. With glibc's
defaults the freed memory mostly stays in the process: on the 1,000-school index, loading
500 schools' graphs through a 64-graph cache grew RSS by 335 MB, and loading the same 500
again by another 228 MB. With allocations of 128 KiB or more served by ``mmap`` (returned
on free), trimming above 128 KiB and two malloc arenas, the same runs grew by 231 MB and
then 3 MB (bench/limits.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

#: mallopt(3) parameters, from glibc's <malloc.h>.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8


def return_freed_memory(threshold_bytes: int = 128 * 1024, arenas: int = 2) -> bool:
    """Tune glibc's allocator so freed memory goes back to the OS (see module docstring).

    Call once, early in a server process; it affects every later allocation in the process.
    ``MALLOC_*`` environment variables set by an operator are read by glibc at start-up and
    are overridden by this call.

    Args:
        threshold_bytes: allocations this large are mmap'd, and the heap top is trimmed
            above this much free memory (bytes; glibc's dynamic default grows to 32 MiB).
        arenas: malloc arenas (glibc's default is 8 per core).

    Returns:
        True if applied; False where the C library is not glibc (nothing changed).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    applied = all(
        mallopt(param, value) == 1
        for param, value in ((M_ARENA_MAX, arenas), (M_MMAP_THRESHOLD, threshold_bytes), (M_TRIM_THRESHOLD, threshold_bytes))
    )
    log.debug("malloc tuned for returning freed memory: %s", applied)
    return applied
