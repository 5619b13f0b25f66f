"""Process memory settings for fitting (used by the command line, batch workers and benchmarks;
a library caller opts in by calling retain_freed_memory itself)."""
from __future__ import annotations

import ctypes
import sys

# glibc's mallopt parameters (malloc.h) and the values retain_freed_memory sets
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_RETAIN = ((_M_TRIM_THRESHOLD, 1 << 30), (_M_TOP_PAD, 64 << 20), (_M_MMAP_THRESHOLD, 32 << 20))


def retain_freed_memory() -> bool:
    """Have glibc's malloc keep freed memory for reuse instead of handing it back to the kernel.
    A fitting step allocates and frees the same MB-sized activations every step; under glibc's
    defaults they are often trimmed or unmapped and faulted in again the next step (thousands
    of page faults a step at 512x768). Measured, steps 1.13x faster at 512x768, within noise
    at 128x128 and 256x256 (benchmarks/results/fit_speed_malloc.md). Process-wide and for the rest of
    the process (up to 1 GiB of freed memory is kept rather than returned), hence not done by
    the library on its own. Returns False, changing nothing, where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in _RETAIN)
