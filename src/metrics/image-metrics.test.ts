import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine } from '../core/engine.ts';
import { fromSeed } from '../core/random.ts';
import { classCoverageEntropy, conditionalAccuracy, fitGaussian, frechetDistance, kthNeighbourRadii, precisionRecall, type FeatureSet, type GaussianFit } from './image-metrics.ts';

await initEngine();

function gaussianSamples(count: number, mean: number[], scales: number[], seed: string): FeatureSet {
  const random = fromSeed(seed);
  const dim = mean.length;
  const data = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) for (let j = 0; j < dim; j++) data[i * dim + j] = mean[j]! + scales[j]! * random.normal();
  return { count, dim, data };
}

function fit(mean: number[], covariance: number[][]): GaussianFit {
  return { mean: Float64Array.from(mean), covariance: Float64Array.from(covariance.flat()), dim: mean.length };
}

test('identical feature sets have Fréchet distance 0', () => {
  const set = gaussianSamples(500, [0, 1, 2, 3], [1, 2, 0.5, 1], 'same');
  assert.ok(Math.abs(frechetDistance(fitGaussian(set), fitGaussian(set))) < 1e-6, 'FID(x, x) = 0');
});

test('two diagonal Gaussians: ‖μ1 − μ2‖² + Σ(σ1 − σ2)²', () => {
  const a = fit([0, 0, 1], [[1, 0, 0], [0, 4, 0], [0, 0, 9]]);
  const b = fit([1, 2, 1], [[4, 0, 0], [0, 1, 0], [0, 0, 9]]);
  const expected = 1 + 4 + 0 + (1 - 2) ** 2 + (2 - 1) ** 2 + 0;
  assert.ok(Math.abs(frechetDistance(a, b) - expected) < 1e-9, `got ${frechetDistance(a, b)}, expected ${expected}`);
});

test('non-commuting covariances match the closed form Tr(Σ1 + Σ2 − 2(Σ1^½ Σ2 Σ1^½)^½)', () => {
  // Σ1 = diag(4, 1) and Σ2 = R diag(9, 0) Rᵀ (rank one, rotated 45°): Σ1^½ Σ2 Σ1^½ is rank one,
  // so its square root's trace is √(trace) = √(uᵀ Σ1 u · 9) with u = (1, 1)/√2.
  const a = fit([0, 0], [[4, 0], [0, 1]]);
  const b = fit([0, 0], [[4.5, 4.5], [4.5, 4.5]]);
  const expected = 5 + 9 - 2 * Math.sqrt(9 * ((4 + 1) / 2));
  assert.ok(Math.abs(frechetDistance(a, b) - expected) < 1e-6, `got ${frechetDistance(a, b)}, expected ${expected}`);
  assert.ok(Math.abs(frechetDistance(a, b) - frechetDistance(b, a)) < 1e-6, 'symmetric');
});

test('fitted samples converge to the closed form of their Gaussians', () => {
  const a = gaussianSamples(20_000, [0, 0], [1, 1], 'a');
  const b = gaussianSamples(20_000, [3, 0], [2, 1], 'b');
  const expected = 9 + (1 - 2) ** 2;
  const measured = frechetDistance(fitGaussian(a), fitGaussian(b));
  assert.ok(Math.abs(measured - expected) < 0.15, `got ${measured}, expected about ${expected}`);
});

test('k-th neighbour radii exclude the point itself', () => {
  const set: FeatureSet = { count: 4, dim: 1, data: Float32Array.of(0, 1, 3, 10) };
  assert.deepEqual(Array.from(kthNeighbourRadii(set, 1)), [1, 1, 4, 49]);
});

test('precision and recall: identical sets, disjoint sets, and a generator that covers half the data', () => {
  const real = gaussianSamples(400, [0, 0], [1, 1], 'real');
  assert.deepEqual(precisionRecall(real, real), { precision: 1, recall: 1 });
  const far = gaussianSamples(400, [100, 100], [1, 1], 'far');
  assert.deepEqual(precisionRecall(real, far), { precision: 0, recall: 0 });
  // Samples only from the half x < 0: realistic (high precision) but missing half the data (recall ≈ ½).
  const half = gaussianSamples(800, [0, 0], [1, 1], 'half');
  const rows: number[] = [];
  for (let i = 0; i < half.count && rows.length < 800; i++) if (half.data[i * 2]! < 0) rows.push(half.data[i * 2]!, half.data[i * 2 + 1]!);
  const { precision, recall } = precisionRecall(real, { count: rows.length / 2, dim: 2, data: Float32Array.from(rows) });
  assert.ok(precision > 0.9, `precision ${precision}`);
  assert.ok(recall > 0.35 && recall < 0.75, `recall ${recall}`);
});

test('conditional accuracy and class-coverage entropy', () => {
  assert.equal(conditionalAccuracy([1, 2, 3, 3], [1, 2, 3, 4]), 0.75);
  assert.throws(() => conditionalAccuracy([1], [1, 2]), /one prediction per requested label/);
  assert.ok(Math.abs(classCoverageEntropy([0, 1, 2, 3], 4) - 1) < 1e-12, 'uniform coverage is 1');
  assert.equal(classCoverageEntropy([2, 2, 2, 2], 4), 0, 'one class is 0');
  assert.ok(Math.abs(classCoverageEntropy([0, 0, 1, 1], 4) - 0.5) < 1e-12, 'two of four classes: log 2 / log 4');
  assert.throws(() => classCoverageEntropy([0, 4], 4), /prediction 4 is outside 0..3/);
  assert.throws(() => classCoverageEntropy([], 4), /at least 2 classes and 1 prediction/);
});
