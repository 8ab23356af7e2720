/**
 * Helpers for the wasm kernel tests: deterministic data, running one computation on a backend with
 * leak checks, and comparing results between backends.
 */
import assert from 'node:assert/strict';
import * as tf from '../tf.ts';

export type BackendName = 'cpu' | 'wasm';
export type Pad = 'same' | 'valid' | number | number[][];
export type RoundingMode = 'floor' | 'round' | 'ceil' | undefined;
export type Shape4 = [number, number, number, number];

export interface Result {
  shape: number[];
  values: Float32Array | Int32Array | Uint8Array;
}

/** Deterministic pseudo-random values in [-1, 1) (mulberry32), so failures reproduce. */
export function randomValues(size: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const values = new Float32Array(size);
  for (let index = 0; index < size; index++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    values[index] = (((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return values;
}

export function randomTensor(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(randomValues(tf.util.sizeFromShape(shape), seed), shape);
}

/**
 * Runs `compute` on one backend inside tidy, reads the outputs back, and checks that neither a
 * tensor nor a raw backend buffer outlived the run (the wasm kernels allocate scratch buffers that
 * never become tensors, so numTensors alone would not see them leak).
 */
export async function runOn(backendName: BackendName, compute: () => tf.Tensor | tf.Tensor[]): Promise<Result[]> {
  assert.ok(await tf.setBackend(backendName), `backend ${backendName} failed to initialise`);
  await tf.ready();
  const tensorsBefore = tf.memory().numTensors;
  const dataIdsBefore = tf.engine().backend.numDataIds();
  const outputs = tf.tidy(() => {
    const result = compute();
    return Array.isArray(result) ? result : [result];
  });
  const results = outputs.map((output) => ({ shape: output.shape.slice(), values: output.dataSync() }));
  tf.dispose(outputs);
  assert.equal(tf.memory().numTensors, tensorsBefore, `${backendName}: tensors leaked`);
  assert.equal(tf.engine().backend.numDataIds(), dataIdsBefore, `${backendName}: backend buffers leaked`);
  return results;
}

export function assertClose(actual: Result, expected: Result, label: string, tolerance = 1e-4): void {
  assert.deepEqual(actual.shape, expected.shape, `${label}: shape`);
  assert.equal(actual.values.length, expected.values.length, `${label}: size`);
  for (let index = 0; index < expected.values.length; index++) {
    const want = expected.values[index];
    const got = actual.values[index];
    if (!(Math.abs(got - want) <= tolerance * Math.max(1, Math.abs(want)))) {
      assert.fail(`${label}: element ${index} is ${got}, expected ${want} (shape [${expected.shape.join(', ')}])`);
    }
  }
}

export async function compareBackends(label: string, compute: () => tf.Tensor | tf.Tensor[], tolerance?: number): Promise<void> {
  const expected = await runOn('cpu', compute);
  const actual = await runOn('wasm', compute);
  assert.equal(actual.length, expected.length, `${label}: output count`);
  actual.forEach((result, index) => assertClose(result, expected[index], `${label} output ${index}`, tolerance));
}

export function describePad(pad: Pad): string {
  return Array.isArray(pad) ? `explicit ${JSON.stringify(pad)}` : String(pad);
}

/** Forward output shape for the given geometry, i.e. the shape dy must have. */
export function forwardOutShape(
  xShape: Shape4,
  filterShape: Shape4,
  strides: number | [number, number],
  dilations: number | [number, number],
  pad: Pad,
  roundingMode: RoundingMode,
  depthwise: boolean,
): Shape4 {
  return tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    strides,
    dilations,
    pad as tf.backend_util.ExplicitPadding,
    roundingMode,
    depthwise,
  ).outShape;
}

/**
 * A dilated filter rewritten as the equivalent undilated one: taps spread out by the dilation with
 * zeros between. A conv with the dilated filter equals a conv with this one at the same strides and
 * padding, so the cpu kernels (which ignore dilations in their backprop loops) can produce
 * reference gradients for dilated convolutions through it.
 */
export function spreadFilter(values: Float32Array, filterShape: Shape4, dilations: [number, number]): { values: Float32Array; shape: Shape4 } {
  const [filterHeight, filterWidth, channels, multiplier] = filterShape;
  const depth = channels * multiplier;
  const shape: Shape4 = [(filterHeight - 1) * dilations[0] + 1, (filterWidth - 1) * dilations[1] + 1, channels, multiplier];
  const spread = new Float32Array(tf.util.sizeFromShape(shape));
  for (let row = 0; row < filterHeight; row++) {
    for (let column = 0; column < filterWidth; column++) {
      const source = (row * filterWidth + column) * depth;
      const target = (row * dilations[0] * shape[1] + column * dilations[1]) * depth;
      spread.set(values.subarray(source, source + depth), target);
    }
  }
  return { values: spread, shape };
}
