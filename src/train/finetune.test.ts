/**
 * Transfer fine-tuning through the shared trainer: a child starts from its parent's weights, records
 * its parent, holds --freeze groups fixed, maps labels by name, resumes bit-exactly, and refuses
 * what does not fit.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { initEngine } from '../core/engine.ts';
import { ParamBuilder } from '../core/params.ts';
import { fromSeed } from '../core/random.ts';
import * as tf from '../core/tf.ts';
import { readImageDatasetFile, writeImageDatasetFile } from '../data/image-file.ts';
import { loadImageDataset } from '../data/index.ts';
import { loadCheckpoint, newManifest, saveCheckpoint } from '../io/checkpoint.ts';
import type { TrainRequest } from '../models/family.ts';
import { alignLabels } from './run-setup.ts';
import { ganFamily } from '../models/gan/index.ts';
import { vaeFamily } from '../models/vae/index.ts';
import { tempDir, writeShapeFolder } from '../../test/fixtures.ts';
import { loadStartingWeights } from './starting-weights.ts';

await initEngine();

const root = tempDir();
const shapes = writeShapeFolder(join(root, 'shapes'), 16);
// The new data: rings only, in a folder of its own.
const rings = join(root, 'rings');
cpSync(join(shapes, 'ring'), join(rings, 'ring'), { recursive: true });

function request(outDir: string, overrides: Partial<TrainRequest> = {}): TrainRequest {
  return { dataset: shapes, outDir, seed: 2, steps: 6, batchSize: 8, learningRate: 2e-3, resume: false, preset: 'tiny', imageSize: 16, config: { latentDim: 3 }, command: 'test', quiet: true, backend: 'wasm', ...overrides };
}

const weightsOf = (dir: string) => loadCheckpoint(dir).weights;
const parent = join(root, 'parent');
await vaeFamily.train(request(parent));

test('a fine-tune starts from its parent: at a vanishing learning rate the child keeps the parent\'s weights', async () => {
  const child = join(root, 'still');
  await vaeFamily.train({ ...request(child, { dataset: rings, seed: 9, steps: 2, learningRate: 1e-8, config: {}, preset: undefined, imageSize: undefined }), parent });
  const [before, after] = [weightsOf(parent), weightsOf(child)];
  for (const [name, tensor] of before) {
    const moved = Math.max(...Array.from(tensor.data, (value, i) => Math.abs(value - after.get(name)!.data[i]!)));
    assert.ok(moved < 1e-5, `${name} moved ${moved}`);
  }
  const config = JSON.parse(readFileSync(join(child, 'config.json'), 'utf8'));
  assert.equal(config.parent, resolve(parent), 'the child links to its parent');
  assert.deepEqual(config.config, JSON.parse(readFileSync(join(parent, 'config.json'), 'utf8')).config, 'the parent\'s network');
  assert.equal(config.training.dataset, rings);
  assert.equal(config.training.step, 2, 'steps count from 0 again');
});

test('--freeze holds the named groups fixed and trains the rest', async () => {
  const child = join(root, 'frozen');
  await vaeFamily.train({ ...request(child, { dataset: rings, steps: 4, learningRate: 5e-3 }), parent, freeze: ['encoder.'] });
  const [before, after] = [weightsOf(parent), weightsOf(child)];
  let decoderMoved = false;
  for (const [name, tensor] of before) {
    const same = tensor.data.every((value, i) => value === after.get(name)!.data[i]);
    if (name.startsWith('encoder.')) assert.ok(same, `${name} is frozen`);
    else decoderMoved ||= !same;
  }
  assert.ok(decoderMoved, 'the decoder trains');
  assert.deepEqual(JSON.parse(readFileSync(join(child, 'config.json'), 'utf8')).training.freeze, ['encoder.']);
  // Resumed without --freeze, the run keeps its encoder fixed.
  await vaeFamily.train(request(child, { dataset: '', steps: 7, resume: true }));
  const resumed = weightsOf(child);
  for (const [name, tensor] of before) if (name.startsWith('encoder.')) assert.ok(tensor.data.every((value, i) => value === resumed.get(name)!.data[i]), `${name} stays frozen after --resume`);
  assert.deepEqual(JSON.parse(readFileSync(join(child, 'config.json'), 'utf8')).training.freeze, ['encoder.']);
  await assert.rejects(vaeFamily.train({ ...request(join(root, 'bad-freeze'), { dataset: rings }), parent, freeze: ['encodr.'] }), /--freeze encodr\. matches no parameter; this model's groups are decoder\.\w+.*encoder\./);
  await assert.rejects(vaeFamily.train({ ...request(join(root, 'all-frozen'), { dataset: rings }), parent, freeze: ['encoder.', 'decoder.'] }), /holds every trained parameter fixed/);
});

test('a resumed fine-tune equals an uninterrupted one, bit for bit', async () => {
  const straight = join(root, 'straight');
  await vaeFamily.train({ ...request(straight, { dataset: rings, steps: 5 }), parent });
  const interrupted = join(root, 'interrupted');
  const first = await vaeFamily.train({ ...request(interrupted, { dataset: rings, steps: 5, shouldStop: (step) => step === 3 }), parent });
  assert.equal(first.stoppedEarly, true);
  await vaeFamily.train(request(interrupted, { dataset: '', steps: undefined, resume: true }));
  assert.deepEqual(readFileSync(join(interrupted, 'model.safetensors')), readFileSync(join(straight, 'model.safetensors')));
  assert.equal(JSON.parse(readFileSync(join(interrupted, 'config.json'), 'utf8')).parent, resolve(parent), 'the parent survives --resume');
});

test('a parent of another family, or data of another size, is refused', async () => {
  await assert.rejects(ganFamily.train({ ...request(join(root, 'gan-child'), { config: {} }), parent }), /holds a vae model, not a gan/);
  const big = writeShapeFolder(join(root, 'big'), 4, 24);
  await assert.rejects(vaeFamily.train({ ...request(join(root, 'big-child'), { dataset: big, imageSize: 24 }), parent }), /is for 16×16×1 images but .* gives 24×24×1/);
  const conditional = join(root, 'gan-parent');
  await ganFamily.train(request(conditional, { steps: 1, config: { conditional: true } }));
  const unlabelled = join(root, 'unlabelled');
  cpSync(join(shapes, 'ring'), unlabelled, { recursive: true });
  await assert.rejects(ganFamily.train({ ...request(join(root, 'gan-unlabelled'), { dataset: unlabelled, config: {} }), parent: conditional }), /gan-parent is conditional, but .*unlabelled is unlabelled: put its images in subfolders named by label \(ring, square\)/);
});

test('fine-tune labels are matched to the parent\'s by name', () => {
  const data = loadImageDataset(rings, { split: 'train', height: 16, width: 16 });
  assert.deepEqual(data.labelNames, ['ring']);
  const aligned = alignLabels(data, ['ring', 'square'], rings, 'parent');
  assert.deepEqual(aligned.labelNames, ['ring', 'square']);
  assert.ok(aligned.labels!.every((label) => label === 0));
  const swapped = alignLabels(data, ['square', 'ring'], rings, 'parent');
  assert.ok(swapped.labels!.every((label) => label === 1), 'the ring is label 1 of the parent');
  assert.throws(() => alignLabels(data, ['circle', 'square'], rings, 'runs/p'), /has labels runs\/p does not know \(ring\); its labels are circle, square/);
});

test('starting weights fall back to the averaged twin that shipped models keep', () => {
  const builder = new ParamBuilder(fromSeed(1));
  builder.weight('w', [2, 2], 2);
  builder.weight('ema.w', [2, 2], 2);
  const dir = join(root, 'shipped');
  const values = Float32Array.from([1, 2, 3, 4]);
  saveCheckpoint(dir, { manifest: newManifest('toy', {}, { step: 1 }), weights: { 'ema.w': { dtype: 'F32', shape: [2, 2], data: values } } });
  loadStartingWeights(builder.params, dir, 'toy');
  assert.deepEqual([...builder.params['w']!.dataSync()], [1, 2, 3, 4]);
  assert.deepEqual([...builder.params['ema.w']!.dataSync()], [1, 2, 3, 4]);
  assert.throws(() => loadStartingWeights({ other: builder.params['w']! }, dir, 'toy'), /has no tensor "other"/);
  tf.dispose(Object.values(builder.params));
});

test('an image dataset file round-trips and bad ones are named', () => {
  const path = join(root, 'set.safetensors');
  const pixels = Float32Array.from({ length: 3 * 4 * 4 }, (_, i) => (i % 7) / 7);
  writeImageDatasetFile(path, { count: 3, height: 4, width: 4, channels: 1, pixels, labels: Int32Array.from([0, 1, 1]), labelNames: ['a', 'b'] });
  const read = readImageDatasetFile(path);
  assert.deepEqual([read.count, read.height, read.width, read.channels], [3, 4, 4, 1]);
  assert.deepEqual(read.pixels, pixels);
  assert.deepEqual([...read.labels!], [0, 1, 1]);
  assert.deepEqual(read.labelNames, ['a', 'b']);
  assert.equal(loadImageDataset(path, { split: 'train' }).count, 3, 'loadImageDataset reads it');
  assert.throws(() => loadImageDataset(path, { split: 'train', height: 8, width: 8 }), /holds 4×4 images; a model of size 8×8/);
  writeImageDatasetFile(path, { count: 1, height: 4, width: 4, channels: 1, pixels: pixels.slice(0, 16), labels: Int32Array.from([5]), labelNames: ['a'] });
  assert.throws(() => readImageDatasetFile(path), /label 5 is outside its 1 label names/);
  rmSync(path);
  assert.throws(() => readImageDatasetFile(path), /no image dataset at/);
});
