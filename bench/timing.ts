/**
 * Timing helpers the benchmarks share: warm up, repeat, take the median.
 */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median milliseconds of `run(i)` over `repeats` calls after `warmup` untimed ones. */
export function medianMs(run: (i: number) => void, repeats: number, warmup = 1): number {
  for (let i = 0; i < warmup; i++) run(-1 - i);
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    run(i);
    times.push(performance.now() - start);
  }
  return median(times);
}
