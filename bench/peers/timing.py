"""Timing shared by the PyTorch twins: warm up, repeat, take the median, as bench/timing.ts does."""
import time


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
