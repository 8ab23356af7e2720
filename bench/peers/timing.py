"""Timing shared by the PyTorch twins: warm up, repeat, take the median, as bench/timing.ts does;
and the facts about this PyTorch that its JSON line reports."""
import time

import torch


def median_ms(step, repeats, warmup):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[len(times) // 2]


def blas_library():
    """The BLAS this process loaded. Debian's python3-torch calls whichever libblas.so.3 the system's
    alternatives name; without OpenBLAS installed that is the reference BLAS, many times slower, and
    the figures would not be PyTorch's."""
    try:
        with open("/proc/self/maps", encoding="utf8") as maps:
            mapped = maps.read()
    except OSError:
        return "unknown"
    for name in ("openblas", "mkl", "blis"):
        if name in mapped:
            return name
    return "reference" if "/blas/libblas" in mapped else "unknown"


def report(threads, **measured):
    """The twin's one JSON-ready line: what it measured, its thread count, torch's version and its BLAS."""
    return {**measured, "threads": threads, "torch": torch.__version__, "blas": blas_library()}
