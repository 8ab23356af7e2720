import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initEngine } from '../../core/engine.ts';
import { fromSeed } from '../../core/random.ts';
import { loadCheckpoint, readManifest, saveCheckpoint } from '../../io/checkpoint.ts';
import { tempDir, writeShapeFolder } from '../../../test/fixtures.ts';
import type { TrainRequest } from '../family.ts';
import * as tf from '../../core/tf.ts';
import { parseDiffusionConfig } from './config.ts';
import { Diffusion } from './diffusion.ts';
import { diffusionFamily } from './index.ts';

await initEngine();

const root = tempDir();
const dataset = writeShapeFolder(join(root, 'shapes'), 8);

function request(outDir: string, overrides: Partial<TrainRequest> = {}): TrainRequest {
  return { dataset, outDir, seed: 4, steps: 4, batchSize: 4, resume: false, preset: 'tiny', imageSize: 12, config: { conditional: true, timesteps: 50 }, command: 'test', quiet: true, backend: 'wasm', ...overrides };
}

test('a tiny conditional diffusion model trains, resumes exactly, and samples the same images for the same seed', async () => {
  const straight = join(root, 'straight');
  const summary = await diffusionFamily.train(request(straight));
  assert.ok(Number.isFinite(summary.last['loss']), 'the loss is finite');
  const interrupted = join(root, 'interrupted');
  await diffusionFamily.train(request(interrupted, { shouldStop: (step) => step === 2 }));
  await diffusionFamily.train(request(interrupted, { resume: true, dataset: '', config: {} }));
  assert.deepEqual(readFileSync(join(interrupted, 'model.safetensors')), readFileSync(join(straight, 'model.safetensors')));

  const model = diffusionFamily.load(straight, readManifest(straight));
  assert.equal(model.conditional, true);
  const draw = (seed: number, options = {}) => {
    const images = model.sampleImages!(2, fromSeed(seed), { labels: [0, 1], ...options });
    const values = Array.from(images.dataSync());
    assert.deepEqual(images.shape, [2, 12, 12, 1]);
    images.dispose();
    return values;
  };
  for (const sampler of ['ddpm', 'ddim', 'dpm-solver']) {
    assert.deepEqual(draw(1, { sampler, steps: 5 }), draw(1, { sampler, steps: 5 }), `${sampler}: same seed, same images`);
    assert.ok(draw(1, { sampler, steps: 5 }).every((value) => value >= 0 && value <= 1), `${sampler}: pixels in [0, 1]`);
  }
  assert.notDeepEqual(draw(1, { steps: 5 }), draw(2, { steps: 5 }));
  assert.notDeepEqual(draw(1, { steps: 5, guidance: 1 }), draw(1, { steps: 5 }), 'guidance changes the samples');
  assert.deepEqual(draw(1, { steps: 5, guidance: 4 }), draw(1, { steps: 5 }), 'conditional models default to guidance 4');
  assert.throws(() => draw(1, { sampler: 'euler' }), /unknown sampler "euler": use ddpm, ddim, dpm-solver/);
  assert.throws(() => draw(1, { steps: 51 }), /--steps must be 1..50/);

  // A shipped model keeps only the averaged weights; it samples exactly like the full checkpoint.
  const { manifest, weights } = loadCheckpoint(straight);
  const shippedDir = join(root, 'shipped');
  saveCheckpoint(shippedDir, { manifest, weights: Object.fromEntries([...weights].filter(([name]) => name.startsWith('ema.'))) });
  const shipped = diffusionFamily.load(shippedDir, readManifest(shippedDir));
  const fromShipped = shipped.sampleImages!(2, fromSeed(1), { labels: [0, 1], steps: 5 });
  assert.deepEqual(Array.from(fromShipped.dataSync()), draw(1, { steps: 5 }));
  fromShipped.dispose();
  shipped.dispose();
  model.dispose();
});

/** An untrained tiny model with a perturbed output layer, so its predictions depend on the inputs. */
function tinyModel(): Diffusion {
  const model = new Diffusion(parseDiffusionConfig({ imageHeight: 8, imageWidth: 8, classes: 3, timesteps: 20 }, 'tiny'), fromSeed(5));
  model.averaged.params['out.weight']!.assign(tf.randomNormal(model.averaged.params['out.weight']!.shape, 0, 0.3, 'float32', 6));
  return model;
}

const values = (tensor: tf.Tensor) => {
  const out = Array.from(tensor.dataSync());
  tensor.dispose();
  return out;
};

test('guidance 0 is the unconditional path: the labels no longer matter', () => {
  const model = tinyModel();
  const draw = (labels: number[], guidance: number) => values(model.sample(2, fromSeed(1), { labels, guidance, steps: 4 }));
  assert.deepEqual(draw([0, 1], 0), draw([2, 2], 0));
  assert.notDeepEqual(draw([0, 1], 1), draw([2, 2], 1));
  model.dispose();
  const unconditional = new Diffusion(parseDiffusionConfig({ imageHeight: 8, imageWidth: 8, classes: 0, timesteps: 20 }, 'tiny'), fromSeed(5));
  assert.throws(() => unconditional.sample(1, fromSeed(1), { guidance: 3 }), /guidance needs a model trained with --conditional/);
  unconditional.dispose();
});

test('img2img: strength 0 returns the input, more strength moves further from it; bad strength or shape is an error', () => {
  const model = tinyModel();
  const input = tf.tensor4d(fromSeed('input').uniformArray(2 * 64), [2, 8, 8, 1]);
  const distance = (strength: number) => {
    const out = model.img2img(input, strength, fromSeed(2), { labels: [1, 1], steps: 10 });
    return tf.tidy(() => tf.mean(tf.abs(tf.sub(out, input))).dataSync()[0]!) + (out.dispose(), 0);
  };
  assert.equal(distance(0), 0);
  const redraw = (options: { labels?: number[]; guidance?: number }) => values(model.img2img(input, 0.5, fromSeed(2), { steps: 10, ...options }));
  assert.deepEqual(redraw({}), redraw({ labels: [2, 0], guidance: 0 }), 'without a label, an edit is unconditional (not steered to a random label)');
  assert.ok(distance(0.2) < distance(1), `${distance(0.2)} < ${distance(1)}`);
  assert.throws(() => model.img2img(input, 1.5, fromSeed(2)), /--strength must be in \[0, 1\] \(got 1.5\)/);
  assert.throws(() => model.img2img(tf.zeros([1, 6, 6, 1]) as tf.Tensor4D, 0.5, fromSeed(2)), /works on 8×8×1 images, not 6×6×1/);
  input.dispose();
  model.dispose();
});

test('inpainting keeps the unmasked pixels exactly and fills the rest; a mask of another size is an error', () => {
  const model = tinyModel();
  const input = tf.tensor4d(fromSeed('input').uniformArray(64), [1, 8, 8, 1]);
  const mask = tf.tensor4d(Float32Array.from({ length: 64 }, (_, i) => (i % 8 >= 4 ? 1 : 0)), [1, 8, 8, 1]);
  const out = values(model.inpaint(input, mask, fromSeed(3), { labels: [0], steps: 5 }));
  const original = input.dataSync();
  for (let i = 0; i < 64; i++) {
    if (i % 8 < 4) assert.ok(Math.abs(out[i]! - original[i]!) < 1e-6, `kept pixel ${i}`);
  }
  assert.ok(out.some((value, i) => i % 8 >= 4 && Math.abs(value - original[i]!) > 1e-3), 'the masked half is redrawn');
  assert.throws(() => model.inpaint(input, tf.ones([1, 4, 4, 1]) as tf.Tensor4D, fromSeed(3)), /the mask is 4×4 but the images are 8×8/);
  assert.throws(() => model.inpaint(input, tf.ones([1, 8, 8, 3]) as tf.Tensor4D, fromSeed(3)), /the mask has shape \[1, 8, 8, 3\]; it needs one channel/);
  tf.dispose([input, mask]);
  model.dispose();
});
