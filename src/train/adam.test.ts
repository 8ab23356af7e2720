/**
 * AdamW's update in host memory (cpu: one loop per parameter, clipping folded in; native: the same
 * loop in C++ on the thread pool) against the composed tfjs ops every other backend runs (here
 * wasm): the same parameters, moments and returned norm after several steps, with weight decay on
 * some parameters, clipping that does and does not bite, odd sizes, a parameter large enough to be
 * split over threads, and a parameter without a gradient. Native and cpu agree bit for bit
 * wherever the clipping norm (summed in a different order) does not enter.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine } from '../core/engine.ts';
import { fromSeed } from '../core/random.ts';
import * as tf from '../core/tf.ts';
import { AdamW } from './adam.ts';
import { registerNativeBackend } from '../core/native/backend.ts';

const shapes: Record<string, number[]> = { 'a.weight': [7, 13], 'a.bias': [13], 'b.weight': [3, 5, 2], 'big.weight': [300, 129], frozen: [4] };

function run(backend: 'cpu' | 'wasm' | 'native', clipNorm: number): { params: Record<string, Float32Array>; state: Record<string, Float32Array>; norms: number[] } {
  assert.equal(tf.getBackend(), backend, 'the path under test runs');
  const random = fromSeed('adam-test');
  const params = Object.fromEntries(Object.entries(shapes).map(([name, shape]) => [name, tf.variable(tf.tensor(random.normalArray(shape.reduce((a, b) => a * b, 1), 1), shape))]));
  const optimizer = new AdamW(params, { beta2: 0.99, weightDecay: 0.1, decays: (name) => name.endsWith('weight') });
  const norms: number[] = [];
  for (let step = 0; step < 4; step++) {
    const grads = Object.fromEntries(Object.entries(shapes).filter(([name]) => name !== 'frozen').map(([name, shape]) => [name, tf.tensor(random.normalArray(shape.reduce((a, b) => a * b, 1), 2), shape)]));
    norms.push(optimizer.apply(grads, 1e-2, clipNorm));
    tf.dispose(grads);
  }
  const out = { params: Object.fromEntries(Object.entries(params).map(([name, p]) => [name, Float32Array.from(p.dataSync())])), state: Object.fromEntries(Object.entries(optimizer.state()).map(([name, stored]) => [name, Float32Array.from(stored.data)])), norms };
  tf.dispose(Object.values(params));
  optimizer.dispose();
  return out;
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < actual.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) <= 1e-5 * (1 + Math.abs(expected[i]!)), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

for (const clipNorm of [0, 1, 1000]) {
  test(`AdamW in host memory equals the composed ops (clip ${clipNorm})`, async () => {
    await initEngine({ backend: 'wasm' });
    const composed = run('wasm', clipNorm);
    await initEngine({ backend: 'cpu' });
    const fused = run('cpu', clipNorm);
    for (const name of Object.keys(shapes)) assertClose(fused.params[name]!, composed.params[name]!, name);
    for (const name of Object.keys(composed.state)) assertClose(fused.state[name]!, composed.state[name]!, name);
    assert.deepEqual([...fused.params['frozen']!], [...composed.params['frozen']!], 'a parameter without a gradient is untouched');
    if (clipNorm > 0) for (let i = 0; i < 4; i++) assert.ok(Math.abs(fused.norms[i]! - composed.norms[i]!) < 1e-3 * composed.norms[i]!, `norm ${fused.norms[i]} vs ${composed.norms[i]}`);
    if (clipNorm === 1) assert.ok(fused.norms.every((norm) => norm > 1), 'the clipping bit');
  });
}

for (const clipNorm of [0, 1]) {
  test(`AdamW on native equals the host-memory loop (clip ${clipNorm})`, async (t) => {
    if (!registerNativeBackend()) return t.skip('the native addon is not built here');
    await initEngine({ backend: 'cpu' });
    const loop = run('cpu', clipNorm);
    await initEngine({ backend: 'native' });
    const native = run('native', clipNorm);
    for (const name of Object.keys(shapes)) {
      if (clipNorm === 0) assert.deepEqual(native.params[name], loop.params[name], `${name}: bit for bit`);
      else assertClose(native.params[name]!, loop.params[name]!, name);
    }
    for (const name of Object.keys(loop.state)) {
      if (clipNorm === 0) assert.deepEqual(native.state[name], loop.state[name], `${name}: bit for bit`);
      else assertClose(native.state[name]!, loop.state[name]!, name);
    }
    if (clipNorm > 0) for (let i = 0; i < 4; i++) assert.ok(Math.abs(native.norms[i]! - loop.norms[i]!) < 1e-9 * loop.norms[i]!, `norm ${native.norms[i]} vs ${loop.norms[i]}`);
  });
}
