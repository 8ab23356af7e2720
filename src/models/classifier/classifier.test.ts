import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { initEngine } from '../../core/engine.ts';
import { fromSeed } from '../../core/random.ts';
import * as tf from '../../core/tf.ts';
import { readManifest } from '../../io/checkpoint.ts';
import { shapeDataset, tempDir, writeShapeFolder } from '../../../test/fixtures.ts';
import { shiftImages } from '../../data/augment.ts';
import { classifierFamily } from './index.ts';

await initEngine();

const root = tempDir();
const dataset = writeShapeFolder(join(root, 'shapes'), 16);
const outDir = join(root, 'classifier');

test('a tiny classifier learns squares from rings, and reloads to the same predictions', async () => {
  const summary = await classifierFamily.train({
    dataset, outDir, seed: 2, steps: 60, batchSize: 16, learningRate: 1e-2, resume: false, preset: 'tiny', imageSize: 16,
    config: { dropout: 0 }, command: 'test', quiet: true, backend: 'wasm',
  });
  assert.ok(summary.last['accuracy']! > 0.9, `training accuracy ${summary.last['accuracy']}`);
  const load = () => classifierFamily.load(outDir, readManifest(outDir));
  const first = load();
  const second = load();
  const images = tf.tensor4d(shapeDataset(8, 16).pixels, [8, 16, 16, 1]);
  const a = first.classifier!.features(images);
  const b = second.classifier!.features(images);
  assert.deepEqual(a.dataSync(), b.dataSync(), 'save → load gives the same features, bit for bit');
  assert.equal(a.shape[1], first.classifier!.featureDim);
  const metrics = await first.evaluate!({ seed: 0, quiet: true });
  assert.ok((metrics['accuracy'] as number) > 0.9, `held-in accuracy ${metrics['accuracy']}`);
  assert.deepEqual(Object.keys(metrics['perClassAccuracy'] as object), ['ring', 'square']);
  tf.dispose([images, a, b]);
  first.dispose();
  second.dispose();
});

test('a classifier needs labels', async () => {
  const { mkdirSync, copyFileSync } = await import('node:fs');
  const flat = join(root, 'flat');
  mkdirSync(flat, { recursive: true });
  copyFileSync(join(dataset, 'ring', '0.png'), join(flat, 'a.png'));
  await assert.rejects(
    classifierFamily.train({ dataset: flat, outDir: join(root, 'x'), seed: 0, steps: 1, resume: false, imageSize: 16, config: {}, command: 'test', quiet: true, backend: 'wasm' }),
    /has no labels: a classifier needs a labelled dataset/,
  );
});

test('shift augmentation moves pixels and fills with zeros', () => {
  // A 3×3 image with one lit pixel in the centre, shifted by up to 1: the lit pixel stays single.
  const pixels = Float32Array.of(0, 0, 0, 0, 1, 0, 0, 0, 0);
  const random = fromSeed('shift');
  let moved = 0;
  for (let i = 0; i < 20; i++) {
    const out = shiftImages(pixels, [0], [3, 3, 1], 1, random);
    assert.equal(out.reduce((sum, value) => sum + value, 0), 1);
    if (out[4] !== 1) moved += 1;
  }
  assert.ok(moved > 5, `moved ${moved} of 20 times`);
  assert.deepEqual(shiftImages(pixels, [0], [3, 3, 1], 0, random), pixels);
});
