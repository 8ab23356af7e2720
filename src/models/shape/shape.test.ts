import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initEngine } from '../../core/engine.ts';
import { GenloomError } from '../../core/errors.ts';
import { ParamBuilder, gradientsOf, type Params } from '../../core/params.ts';
import { fromSeed } from '../../core/random.ts';
import * as tf from '../../core/tf.ts';
import { readManifest } from '../../io/checkpoint.ts';
import { AdamW } from '../../train/adam.ts';
import { tempDir } from '../../../test/fixtures.ts';
import type { TrainRequest } from '../family.ts';
import { parseShapeConfig } from './config.ts';
import { chamfer, coverageAndMmd, distanceTransform, surfacePoints } from './evaluate.ts';
import { shapeFamily } from './index.ts';
import { addMix3, addPatchDown, addPatchUp, mix3, patchDown, patchUp, type Voxels } from './voxel-layers.ts';
import { VoxelDiffusion } from './voxel-diffusion.ts';
import { VoxelVae, type ShapeBatch } from './voxel-vae.ts';

await initEngine();

const maxDifference = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

/** The layer's params record with `weight` in place of its variable, so tf.grads can differentiate by the weight. */
const withWeight = (p: Params, name: string, weight: tf.Tensor) => ({ [`${name}.weight`]: weight, [`${name}.bias`]: p[`${name}.bias`]! }) as unknown as Params;

test('patchDown, patchUp and mix3 equal tf.conv3d / tf.conv3dTranspose, values and gradients', () => {
  const before = tf.memory().numTensors;
  const builder = new ParamBuilder(fromSeed(3));
  addPatchDown(builder, 'down', 3, 5);
  addPatchUp(builder, 'up', 3, 4);
  addMix3(builder, 'mix', 3, 2);
  const p = builder.params;
  const x = tf.tensor5d(fromSeed(4).normalArray(2 * 4 * 6 * 2 * 3), [2, 4, 6, 2, 3]);
  type Layer = (x: Voxels, w: tf.Tensor5D) => tf.Tensor;
  // The reference loss Σ g ⊙ layer(x, w) for a random projection g. tfjs has no gradient for
  // conv3dTranspose, so for patchUp it is written as its adjoint, Σ x ⊙ conv3d(g, w) (the bias term
  // is constant in x and w): the gradients come from conv3d's own backward pass.
  const cases: [string, Layer, Layer, (x: Voxels, w: tf.Tensor5D, g: tf.Tensor) => tf.Tensor][] = [
    ['down', (v, w) => patchDown(withWeight(p, 'down', w), 'down', v), (v, w) => tf.add(tf.conv3d(v, w, 2, 'valid'), p['down.bias']!), (v, w, g) => tf.sum(tf.mul(tf.conv3d(v, w, 2, 'valid'), g))],
    ['up', (v, w) => patchUp(withWeight(p, 'up', w), 'up', v), (v, w) => tf.add(tf.conv3dTranspose(v, w, [2, 8, 12, 4, 4], 2, 'valid'), p['up.bias']!), (v, w, g) => tf.sum(tf.mul(v, tf.conv3d(g as tf.Tensor5D, w, 2, 'valid')))],
    ['mix', (v, w) => mix3(withWeight(p, 'mix', w), 'mix', v), (v, w) => tf.add(tf.conv3d(v, w, 1, 'same'), p['mix.bias']!), (v, w, g) => tf.sum(tf.mul(tf.conv3d(v, w, 1, 'same'), g))],
  ];
  for (const [name, ours, reference, referenceLoss] of cases) tf.tidy(() => {
    const weight = p[`${name}.weight`] as unknown as tf.Tensor5D;
    const ourOut = ours(x, weight);
    const theirOut = reference(x, weight);
    assert.deepEqual(ourOut.shape, theirOut.shape, `${name}: shape`);
    assert.ok(maxDifference(ourOut, theirOut) < 1e-4, `${name}: values`);
    const projection = tf.tensor(fromSeed(name).normalArray(ourOut.size), ourOut.shape);
    const [ourX, ourW] = tf.grads((v: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(ours(v as Voxels, w as tf.Tensor5D), projection)))([x, weight]);
    const [theirX, theirW] = tf.grads((v: tf.Tensor, w: tf.Tensor) => referenceLoss(v as Voxels, w as tf.Tensor5D, projection) as tf.Scalar)([x, weight]);
    assert.ok(maxDifference(ourX!, theirX!) < 1e-4, `${name}: input gradient`);
    assert.ok(maxDifference(ourW!, theirW!) < 1e-4, `${name}: weight gradient`);
  });
  x.dispose();
  for (const variable of Object.values(p)) variable.dispose();
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
});

/** A tiny batch by hand: solid balls and boxes of a few sizes at 16³, labels 0 and 1. */
function tinyBatch(count: number, r = 16): ShapeBatch {
  const values = new Float32Array(count * r ** 3);
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    labels[n] = n % 2;
    const size = 3 + (n % 4);
    for (let x = 0; x < r; x++) for (let y = 0; y < r; y++) for (let z = 0; z < r; z++) {
      const [dx, dy, dz] = [x - r / 2 + 0.5, y - r / 2 + 0.5, z - r / 2 + 0.5];
      const inside = labels[n] === 0 ? Math.hypot(dx, dy, dz) < size : Math.max(Math.abs(dx), Math.abs(dy), Math.abs(dz)) < size;
      values[n * r ** 3 + (x * r + y) * r + z] = inside ? 1 : 0;
    }
  }
  return { voxels: tf.tensor5d(values, [count, r, r, r, 1]), labels: tf.tensor1d(labels, 'int32') };
}

/** Mean loss over a few fixed seeds, before and after `steps` AdamW steps on one batch. */
function overfit(loss: (batch: ShapeBatch, seed: number) => tf.Scalar, params: Params, batch: ShapeBatch, steps: number, learningRate: number): { first: number; last: number } {
  const evaluate = () => tf.tidy(() => [0, 1, 2, 3].reduce((sum, seed) => sum + loss(batch, 1000 + seed).dataSync()[0]!, 0) / 4);
  const first = evaluate();
  const adam = new AdamW(params, { weightDecay: 0 });
  for (let step = 0; step < steps; step++) {
    tf.tidy(() => adam.apply(gradientsOf(params, () => loss(batch, step)).grads, learningRate));
  }
  adam.dispose();
  return { first, last: evaluate() };
}

test('a tiny conditional VAE overfits a tiny batch; shapes and no leaks', () => {
  const config = parseShapeConfig({ classes: 2 }, 'tiny');
  const vae = new VoxelVae(config, fromSeed(1));
  const batch = tinyBatch(4);
  const before = tf.memory().numTensors;
  const { first, last } = overfit((b, seed) => vae.loss(b, fromSeed(seed)).total, vae.params, batch, 40, 3e-3);
  assert.ok(last < 0.5 * first, `the loss falls clearly: ${first.toFixed(1)} → ${last.toFixed(1)}`);
  const { mean, logVariance } = vae.encode(batch.voxels);
  assert.deepEqual(mean.shape, [4, 8]);
  const decoded = vae.decode(mean, [0, 1, 0, 1]);
  assert.deepEqual(decoded.shape, [4, 16, 16, 16, 1]);
  tf.dispose([mean, logVariance, decoded]);
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  assert.throws(() => vae.sample(1, fromSeed(1), [2]), (e: unknown) => e instanceof GenloomError && /label 2 is out of range: this model knows labels 0..1/.test(e.message));
  tf.dispose(batch as unknown as tf.TensorContainer);
  vae.dispose();
});

test('a tiny diffusion model\'s loss falls on a tiny batch; DDIM samples are grids in [0, 1]', () => {
  const config = parseShapeConfig({ generator: 'diffusion', channels: [8, 8], timesteps: 50, sampleSteps: 4 }, 'tiny');
  const model = new VoxelDiffusion(config, fromSeed(2));
  const batch = tinyBatch(4);
  const before = tf.memory().numTensors;
  const { first, last } = overfit((b, seed) => model.loss(b, fromSeed(seed)).total, model.unet.params, batch, 40, 3e-3);
  assert.ok(last < 0.7 * first, `the loss falls clearly: ${first.toFixed(3)} → ${last.toFixed(3)}`);
  const reported: number[] = [];
  const sample = model.sample(2, fromSeed(5), { onProgress: (done) => reported.push(done) });
  assert.deepEqual(sample.shape, [2, 16, 16, 16, 1]);
  assert.deepEqual(reported, [1, 2, 3, 4]);
  const values = sample.dataSync();
  assert.ok(values.every((value) => value >= 0 && value <= 1));
  sample.dispose();
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  tf.dispose(batch as unknown as tf.TensorContainer);
  model.dispose();
});

test('config validation gives clear errors', () => {
  assert.throws(() => parseShapeConfig({ resolution: 128 }), /too large to train.*use 64 or less/);
  assert.throws(() => parseShapeConfig({ resolution: 20 }), /divisible by 8/);
  assert.throws(() => parseShapeConfig({ generator: 'gan' }), /generator/);
  assert.throws(() => parseShapeConfig({}, 'huge'), /unknown shape preset "huge"/);
  assert.equal(parseShapeConfig({}).resolution, 32);
  assert.deepEqual(parseShapeConfig({}, 'tiny').channels, [8, 16]);
});

test('Chamfer distance, coverage and MMD on hand-made point sets', () => {
  const r = 8;
  const grid = (cells: [number, number, number][]) => {
    const values = new Float32Array(r ** 3);
    for (const [x, y, z] of cells) values[(x * r + y) * r + z] = 1;
    return { resolution: r, values };
  };
  const set = (cells: [number, number, number][]) => {
    const points = surfacePoints(grid(cells), fromSeed(1));
    return { points, distances: distanceTransform(points, r) };
  };
  const a = set([[1, 1, 1]]);
  const b = set([[1, 1, 4]]);
  // One point each, 3 voxels apart: 9 both ways, over r² = 64.
  assert.ok(Math.abs(chamfer(a, b, r) - 18 / 64) < 1e-12);
  assert.equal(chamfer(a, a, r), 0);
  const c = set([[6, 6, 6]]);
  assert.deepEqual(coverageAndMmd([a], [a, c], r), { mmd: (0 + chamfer(a, c, r)) / 2, coverage: 0.5 });
  // The distance transform is exact: brute force on a random set.
  const random = fromSeed(7);
  const cells = Array.from({ length: 12 }, () => [random.integer(r), random.integer(r), random.integer(r)] as [number, number, number]);
  const points = Int32Array.from(cells, ([x, y, z]) => (x * r + y) * r + z);
  const transform = distanceTransform(points, r);
  for (let i = 0; i < r ** 3; i += 7) {
    const [x, y, z] = [Math.floor(i / 64), Math.floor(i / 8) % 8, i % 8];
    const brute = Math.min(...cells.map(([px, py, pz]) => (px - x) ** 2 + (py - y) ** 2 + (pz - z) ** 2));
    assert.equal(transform[i], brute);
  }
});

const root = tempDir();
function request(outDir: string, overrides: Partial<TrainRequest> = {}): TrainRequest {
  return { dataset: 'shapes', outDir, seed: 4, steps: 2, batchSize: 4, resume: false, preset: 'tiny', config: {}, command: 'test', quiet: true, backend: 'native', ...overrides };
}

for (const generator of ['vae', 'diffusion'] as const) {
  test(`${generator}: trains 2 steps on 'shapes', resumes exactly, loads, and generates by seed`, async () => {
    const config = { generator, timesteps: 50, sampleSteps: 3 };
    const straight = join(root, `${generator}-straight`);
    const summary = await shapeFamily.train(request(straight, { config }));
    assert.equal(summary.steps, 2);
    assert.ok(Object.values(summary.last).every(Number.isFinite), 'finite losses');
    const interrupted = join(root, `${generator}-interrupted`);
    await shapeFamily.train(request(interrupted, { config, shouldStop: (step) => step === 1 }));
    await shapeFamily.train(request(interrupted, { resume: true, dataset: '', config: {} }));
    assert.deepEqual(readFileSync(join(interrupted, 'model.safetensors')), readFileSync(join(straight, 'model.safetensors')), 'resumed = uninterrupted');
    await assert.rejects(shapeFamily.train(request(interrupted, { resume: true, steps: 3, config: { resolution: 32 } })), /is for 16³ grids; drop --resolution 32/);

    const model = shapeFamily.load(straight, readManifest(straight));
    const shape = model.shape!;
    assert.equal(model.family, 'shape');
    assert.equal(shape.generator, generator);
    assert.equal(shape.conditional, true, 'conditional by default on labelled data');
    assert.equal(model.labelNames?.length, 7);
    const draw = (seed: number) => shape.generate({ count: 2, labels: [0, 5], random: fromSeed(seed) }).map((grid) => Array.from(grid.values));
    const first = draw(1);
    assert.equal(first.length, 2);
    assert.equal(first[0]!.length, 16 ** 3);
    assert.deepEqual(draw(1), first, 'same seed, same grids');
    assert.notDeepEqual(draw(2), first, 'another seed, other grids');
    assert.throws(() => shape.generate({ count: 1, labels: [7], random: fromSeed(1) }), /label 7 is out of range: this model knows labels 0..6/);
    if (generator === 'vae') {
      const latents = shape.encode!(shape.generate({ count: 2, labels: [1, 2], random: fromSeed(3) }), [1, 2]);
      assert.equal(latents[0]!.length, shape.latentDim);
      assert.equal(shape.decode!(latents, [1, 2]).length, 2);
    }
    model.dispose();
  });
}
