"""SGEMM speed of PyTorch (its BLAS) at the sizes `npm run bench -- gemm` measures, for comparison.

Prints one JSON line: {"gflops": {"MxKxN": value, ...}, "threads": n, "torch": version, "blas": name}.
Usage: python3 bench/peers/gemm.py THREADS M,K,N [M,K,N ...]
"""
import json
import sys
import time

import torch
from timing import report

threads = int(sys.argv[1])
torch.set_num_threads(threads)
results = {}
for spec in sys.argv[2:]:
    m, k, n = (int(x) for x in spec.split(","))
    a = torch.randn(m, k)
    b = torch.randn(k, n)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(10):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    times.sort()
    results[f"{m}x{k}x{n}"] = 2 * m * k * n / times[len(times) // 2] / 1e9
print(json.dumps(report(threads, gflops=results)))
