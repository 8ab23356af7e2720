import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import { addScaled, attributeVector, interpolate, lerp, manifoldLatents, normalQuantile, slerp } from './latent.ts';
import { project2d } from './projection.ts';

const norm = (v: Float32Array) => Math.hypot(...v);
const close = (a: number, b: number, tolerance = 1e-5) => assert.ok(Math.abs(a - b) < tolerance, `${a} vs ${b}`);

test('lerp and slerp hit both endpoints; slerp keeps the norm between equal-norm latents', () => {
  const a = Float32Array.of(3, 0, 0);
  const b = Float32Array.of(0, 3, 0);
  for (const mix of [lerp, slerp]) {
    assert.deepEqual(Array.from(mix(a, b, 0)).map((v) => Number(v.toFixed(5))), [3, 0, 0]);
    assert.deepEqual(Array.from(mix(a, b, 1)).map((v) => Number(v.toFixed(5))), [0, 3, 0]);
  }
  close(norm(slerp(a, b, 0.5)), 3);
  close(norm(lerp(a, b, 0.5)), 3 / Math.SQRT2); // the straight line cuts towards the origin
  const same = slerp(a, a, 0.3); // parallel vectors fall back to a straight line
  assert.deepEqual(Array.from(same), [3, 0, 0]);
});

test('interpolate returns the requested frames and rejects too few', () => {
  const frames = interpolate(Float32Array.of(0, 0), Float32Array.of(1, 2), 5, 'linear');
  assert.equal(frames.length, 5);
  close(frames[2]![1]!, 1);
  assert.throws(() => interpolate(Float32Array.of(0), Float32Array.of(1), 1, 'linear'), GenloomError);
});

test('attribute vectors point from the examples without an attribute to those with it', () => {
  const withIt = [Float32Array.of(2, 1), Float32Array.of(4, 1)];
  const without = [Float32Array.of(0, 1), Float32Array.of(0, 3)];
  const direction = attributeVector(withIt, without);
  assert.deepEqual(Array.from(direction), [3, -1]);
  assert.deepEqual(Array.from(addScaled(Float32Array.of(1, 1), direction, 2)), [7, -1]);
  assert.throws(() => attributeVector([], without), /no examples have the attribute/);
});

test('normalQuantile inverts the normal CDF and the manifold grid covers equal probability', () => {
  close(normalQuantile(0.5), 0, 1e-9);
  close(normalQuantile(0.975), 1.959963984540054, 1e-6);
  close(normalQuantile(0.001), -3.090232306167813, 1e-6);
  const grid = manifoldLatents(4);
  assert.equal(grid.length, 16);
  close(grid[0]![0]!, normalQuantile(0.125));
  close(grid[0]![1]!, -normalQuantile(0.125)); // the top row has the highest z₂
});

test('projections: PCA finds the direction of most variance; UMAP is seeded', () => {
  const random = fromSeed(1);
  // 4-D points that vary mostly along (1, 1, 0, 0).
  const rows = Array.from({ length: 60 }, () => {
    const t = random.normal() * 5;
    return Float32Array.of(t + random.normal() * 0.1, t + random.normal() * 0.1, random.normal() * 0.1, random.normal() * 0.1);
  });
  const pca = project2d(rows, 'pca', 0);
  const spread = (axis: 0 | 1) => Math.max(...pca.map((p) => p[axis])) - Math.min(...pca.map((p) => p[axis]));
  assert.ok(spread(0) > 10 * spread(1), 'the first component carries the variance');
  const umapA = project2d(rows, 'umap', 7);
  const umapB = project2d(rows, 'umap', 7);
  assert.deepEqual(umapA, umapB);
  assert.equal(umapA.length, 60);
  assert.deepEqual(project2d([Float32Array.of(1, 2)], 'umap', 0), [[1, 2]], '2-D latents are used as they are');
});
