import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromSeed } from './random.ts';

test('the same seed and path give the same numbers; other seeds and paths differ', () => {
  const a = fromSeed(7).fork('step', 3).normalArray(16);
  const b = fromSeed(7).fork('step', 3).normalArray(16);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, fromSeed(8).fork('step', 3).normalArray(16));
  assert.notDeepEqual(a, fromSeed(7).fork('step', 4).normalArray(16));
  assert.notDeepEqual(fromSeed('1').uniformArray(4), fromSeed(1).uniformArray(4));
});

test('fork does not advance the parent stream', () => {
  const root = fromSeed(1);
  root.fork('x').uniformArray(100);
  assert.deepEqual(root.uniformArray(4), fromSeed(1).uniformArray(4));
});

test('uniform and normal have the right moments', () => {
  const random = fromSeed(3);
  const n = 50_000;
  const uniforms = random.uniformArray(n);
  const normals = random.normalArray(n);
  const mean = (values: Float32Array) => values.reduce((s, v) => s + v, 0) / values.length;
  assert.ok(Math.abs(mean(uniforms) - 0.5) < 0.01);
  assert.ok(uniforms.every((v) => v >= 0 && v < 1));
  assert.ok(Math.abs(mean(normals)) < 0.02);
  assert.ok(Math.abs(mean(normals.map((v) => v * v)) - 1) < 0.03);
});

test('permutation is a permutation and depends on the seed', () => {
  const order = fromSeed(5).permutation(1000);
  assert.deepEqual([...order].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  assert.notDeepEqual(order, fromSeed(6).permutation(1000));
  assert.deepEqual(order, fromSeed(5).permutation(1000));
});
