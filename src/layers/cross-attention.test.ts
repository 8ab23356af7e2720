import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine } from '../core/engine.ts';
import * as tf from '../core/tf.ts';
import { ParamBuilder, disposeParams, type Params } from '../core/params.ts';
import { fromSeed } from '../core/random.ts';
import { addCrossAttention, crossAttention } from './cross-attention.ts';

await initEngine();

const [B, H, W, C, T, D, heads, groups] = [2, 2, 3, 4, 3, 5, 2, 2];

/** The layer written out with loops in float64, from the same parameter values: the reference. */
function reference(values: Record<string, Float64Array>, x: Float64Array, states: Float64Array, mask: number[]): Float64Array {
  const positions = H * W;
  const out = Float64Array.from(x);
  const headDim = C / heads;
  const project = (input: Float64Array, row: number, inDim: number, name: string, j: number) => {
    let sum = values[`${name}.bias`]![j]!;
    for (let i = 0; i < inDim; i++) sum += input[row * inDim + i]! * values[`${name}.weight`]![i * C + j]!;
    return sum;
  };
  for (let b = 0; b < B; b++) {
    // Group norm over (positions, channels of the group), per image.
    const normed = new Float64Array(positions * C);
    for (let g = 0; g < groups; g++) {
      const channels = C / groups;
      let mean = 0;
      for (let p = 0; p < positions; p++) for (let c = 0; c < channels; c++) mean += x[(b * positions + p) * C + g * channels + c]!;
      mean /= positions * channels;
      let variance = 0;
      for (let p = 0; p < positions; p++) for (let c = 0; c < channels; c++) variance += (x[(b * positions + p) * C + g * channels + c]! - mean) ** 2;
      variance /= positions * channels;
      for (let p = 0; p < positions; p++) {
        for (let c = 0; c < channels; c++) {
          const k = g * channels + c;
          normed[p * C + k] = ((x[(b * positions + p) * C + k]! - mean) / Math.sqrt(variance + 1e-5)) * values['n.norm.scale']![k]! + values['n.norm.shift']![k]!;
        }
      }
    }
    const context = states.subarray(b * T * D, (b + 1) * T * D);
    const q = Array.from({ length: positions }, (_, p) => Array.from({ length: C }, (_, j) => project(normed, p, C, 'n.query', j)));
    const k = Array.from({ length: T }, (_, t) => Array.from({ length: C }, (_, j) => project(context, t, D, 'n.key', j)));
    const v = Array.from({ length: T }, (_, t) => Array.from({ length: C }, (_, j) => project(context, t, D, 'n.value', j)));
    for (let p = 0; p < positions; p++) {
      const mixed = new Float64Array(C);
      for (let h = 0; h < heads; h++) {
        const scores = Array.from({ length: T }, (_, t) => {
          if (!mask[b * T + t]) return -Infinity;
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += q[p]![h * headDim + d]! * k[t]![h * headDim + d]!;
          return dot / Math.sqrt(headDim);
        });
        const top = Math.max(...scores);
        const weights = scores.map((s) => Math.exp(s - top));
        const total = weights.reduce((a, w) => a + w, 0);
        for (let t = 0; t < T; t++) for (let d = 0; d < headDim; d++) mixed[h * headDim + d] += (weights[t]! / total) * v[t]![h * headDim + d]!;
      }
      for (let j = 0; j < C; j++) {
        let sum = values['n.out.bias']![j]!;
        for (let i = 0; i < C; i++) sum += mixed[i]! * values['n.out.weight']![i * C + j]!;
        out[(b * positions + p) * C + j] += sum;
      }
    }
  }
  return out;
}

function setup(): { params: Params; values: Record<string, Float64Array>; x: Float64Array; states: Float64Array; mask: number[] } {
  const random = fromSeed('cross-attention-test');
  const builder = new ParamBuilder(random.fork('init'));
  addCrossAttention(builder, 'n', C, D);
  const params = builder.params;
  const values: Record<string, Float64Array> = {};
  for (const [name, variable] of Object.entries(params)) {
    // Every parameter random (the output projection starts at zero, which would hide the attention).
    const drawn = Float64Array.from(random.fork(name).normalArray(variable.size), (value) => value * 0.5);
    variable.assign(tf.tensor(Float32Array.from(drawn), variable.shape));
    values[name] = drawn;
  }
  const x = Float64Array.from(random.fork('x').normalArray(B * H * W * C));
  const states = Float64Array.from(random.fork('states').normalArray(B * T * D));
  // The second text has one padding token, which must get no attention.
  return { params, values, x, states, mask: [1, 1, 1, 1, 1, 0] };
}

const run = (params: Params, x: tf.Tensor, states: tf.Tensor, mask: number[]) =>
  crossAttention(params, 'n', x as tf.Tensor4D, { states: states as tf.Tensor3D, mask: tf.tensor2d(mask, [B, T]) }, heads, groups);

test('cross-attention equals a loop-by-loop reference, padding ignored', () => {
  const { params, values, x, states, mask } = setup();
  const got = tf.tidy(() => run(params, tf.tensor4d(Float32Array.from(x), [B, H, W, C]), tf.tensor3d(Float32Array.from(states), [B, T, D]), mask).dataSync());
  const want = reference(values, x, states, mask);
  got.forEach((value, i) => assert.ok(Math.abs(value - want[i]!) < 1e-4, `output ${i}: ${value} vs ${want[i]}`));
  // Changing the padding token's state changes nothing.
  const moved = Float64Array.from(states);
  for (let d = 0; d < D; d++) moved[(1 * T + 2) * D + d]! += 3;
  const again = reference(values, x, moved, mask);
  want.forEach((value, i) => assert.ok(Math.abs(value - again[i]!) < 1e-12));
  disposeParams(params);
});

test('cross-attention gradients (input, text states, query weight) match finite differences of the reference', () => {
  const { params, values, x, states, mask } = setup();
  const direction = fromSeed('direction').normalArray(B * H * W * C);
  const objective = (out: Float64Array) => out.reduce((sum, value, i) => sum + value * direction[i]!, 0);
  const weights = tf.tensor4d(direction, [B, H, W, C]);
  const [dx, dStates] = tf.grads((xt: tf.Tensor, st: tf.Tensor) => tf.sum(tf.mul(run(params, xt, st, mask), weights)))([
    tf.tensor4d(Float32Array.from(x), [B, H, W, C]),
    tf.tensor3d(Float32Array.from(states), [B, T, D]),
  ]);
  const { grads } = tf.variableGrads(() => tf.sum(tf.mul(run(params, tf.tensor4d(Float32Array.from(x), [B, H, W, C]), tf.tensor3d(Float32Array.from(states), [B, T, D]), mask), weights)) as tf.Scalar, [params['n.query.weight']!]);
  const dQuery = Object.values(grads)[0]!.dataSync();
  const numeric = (array: Float64Array, i: number, evaluate: () => Float64Array) => {
    const h = 1e-5;
    const saved = array[i]!;
    array[i] = saved + h;
    const up = objective(evaluate());
    array[i] = saved - h;
    const down = objective(evaluate());
    array[i] = saved;
    return (up - down) / (2 * h);
  };
  const check = (got: ArrayLike<number>, array: Float64Array, what: string) => {
    for (let i = 0; i < array.length; i++) {
      const want = numeric(array, i, () => reference(values, x, states, mask));
      assert.ok(Math.abs(got[i]! - want) < 2e-3 * Math.max(1, Math.abs(want)), `${what}[${i}]: ${got[i]} vs ${want}`);
    }
  };
  check(dx!.dataSync(), x, 'd/dx');
  check(dStates!.dataSync(), states, 'd/dstates');
  check(dQuery, values['n.query.weight']!, 'd/dW_Q');
  // The padding token's state gets no gradient.
  for (let d = 0; d < D; d++) assert.equal(dStates!.dataSync()[(1 * T + 2) * D + d], 0);
  tf.dispose([dx!, dStates!, weights, ...Object.values(grads)]);
  disposeParams(params);
});
