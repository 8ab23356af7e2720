/**
 * Timing helpers the benchmarks share: warm up, repeat, take the median; one optimizer step.
 */
import { gradientsOf, type Params } from '../src/core/params.ts';
import * as tf from '../src/core/tf.ts';
import type { AdamW } from '../src/train/adam.ts';
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

/** One AdamW step on `loss` (learning rate 1e-3), waited for by reading the loss back, with everything it made disposed. */
export function adamStep(params: Params, optimizer: AdamW, loss: () => tf.Scalar): void {
  const { value, grads } = gradientsOf(params, loss);
  optimizer.apply(grads, 1e-3);
  value.dataSync();
  tf.dispose([value, grads] as tf.TensorContainer);
}

/**
 * How many tfjs kernels `run` executes (not counting the op scopes customGrad and fused ops
 * record): tfjs's profiler turned on around one synchronous call, as tf.profile does.
 */
export function countKernels(run: () => void): number {
  const state = (tf.engine() as unknown as { state: { profiling: boolean; activeProfile: { kernels: { name: string }[] } } }).state;
  state.profiling = true;
  state.activeProfile.kernels = [];
  try {
    run();
  } finally {
    state.profiling = false;
  }
  const backend = tf.getBackend();
  return state.activeProfile.kernels.filter((kernel) => tf.getKernel(kernel.name, backend) !== undefined).length;
}

/** A training step's median time and its kernel count (one more call, profiled). */
export function stepTiming(run: (i: number) => void, repeats: number, warmup = 1): { ms: number; kernels: number } {
  const ms = medianMs(run, repeats, warmup);
  return { ms, kernels: countKernels(() => run(repeats)) };
}
