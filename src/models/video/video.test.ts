import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initEngine } from '../../core/engine.ts';
import { GenloomError } from '../../core/errors.ts';
import { gradientsOf } from '../../core/params.ts';
import { fromSeed } from '../../core/random.ts';
import * as tf from '../../core/tf.ts';
import { gatherClips, movingMnist } from '../../data/moving-mnist.ts';
import { readManifest } from '../../io/checkpoint.ts';
import { AdamW } from '../../train/adam.ts';
import { tempDir } from '../../../test/fixtures.ts';
import type { TrainRequest } from '../family.ts';
import { ClipVae, type ClipBatch } from './clip-vae.ts';
import { parseVideoConfig } from './config.ts';
import { videoFamily } from './index.ts';

await initEngine();

/** A few real clips of `frames` frames, as a training batch for `network`. */
function clipBatch(network: ClipVae, clips: number): ClipBatch {
  const data = movingMnist({ split: 'train', frames: network.config.frames, count: clips });
  const { frames, digits } = gatherClips(data, Array.from({ length: clips }, (_, i) => i));
  return { frames, condition: network.condition(digits) };
}

test('shapes follow the config, losses are finite, and nothing leaks, for two configs', () => {
  for (const overrides of [{ frames: 3 }, { frames: 2, latentDim: 3, convChannels: [4, 8], hiddenUnits: 16, dynamicsUnits: 8, digitsPerClip: 1 }]) {
    const config = parseVideoConfig(overrides, 'tiny');
    const network = new ClipVae(config, fromSeed(1));
    const data = movingMnist({ split: 'train', frames: config.frames, count: 2, digitsPerClip: config.digitsPerClip });
    const { frames, digits } = gatherClips(data, [0, 1]);
    const condition = network.condition(digits);
    assert.deepEqual(condition.shape, [2, config.digitsPerClip * 10]);
    assert.equal(condition.sum().dataSync()[0], 2 * config.digitsPerClip, 'one one-hot per digit slot');
    const before = tf.memory().numTensors;
    const batch = { frames, condition };
    tf.tidy(() => {
      const { total, parts } = network.loss(batch, fromSeed(2));
      for (const value of [total, parts['reconstruction']!, parts['kl']!, parts['dynamics']!]) assert.ok(Number.isFinite(value.dataSync()[0]!));
      assert.deepEqual(network.reconstruct(batch).shape, frames.shape);
      assert.deepEqual(network.predict(batch, 1).shape, frames.shape);
      assert.deepEqual(network.generate(condition, config.frames, fromSeed(3)).shape, frames.shape);
    });
    assert.equal(tf.memory().numTensors, before, 'no tensors leak');
    tf.dispose([frames, condition]);
    network.dispose();
  }
});

test('the fused prior equals the step-by-step GRU, values and gradients', () => {
  const network = new ClipVae(parseVideoConfig({ frames: 5, latentDim: 3, dynamicsUnits: 6 }, 'tiny'), fromSeed(7));
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const latents = tf.tensor3d(fromSeed(8).normalArray(2 * 5 * 3), [2, 5, 3]);
    const condition = network.condition([1, 2, 3, 4]);
    const projection = tf.tensor3d(fromSeed(9).normalArray(2 * 5 * 3), [2, 5, 3]);
    const objective = (prior: { mean: tf.Tensor3D; logVariance: tf.Tensor3D }) => prior.mean.mul(projection).sum().add(prior.logVariance.square().sum()) as tf.Scalar;
    const fused = gradientsOf(network.params, () => objective(network.priorOf(latents, condition)));
    const byStep = gradientsOf(network.params, () => objective(network.priorOfByStep(latents, condition)));
    assert.ok(Math.abs(fused.value.dataSync()[0]! - byStep.value.dataSync()[0]!) < 1e-4, 'values');
    const priorNames = Object.keys(byStep.grads).filter((name) => name.startsWith('prior.'));
    assert.equal(priorNames.length, 6);
    for (const name of priorNames) {
      const difference = tf.max(tf.abs(tf.sub(fused.grads[name]!, byStep.grads[name]!))).dataSync()[0]!;
      assert.ok(difference < 1e-4, `${name}: gradient differs by ${difference}`);
    }
  });
  assert.equal(tf.memory().numTensors, before);
  network.dispose();
});

test('config validation gives clear errors', () => {
  assert.throws(() => parseVideoConfig({ latentDim: 0 }), (e: unknown) => e instanceof GenloomError && /latentDim/.test(e.message));
  assert.throws(() => parseVideoConfig({ frameSize: 60 }), (e: unknown) => e instanceof GenloomError && /divisible by 8/.test(e.message));
  assert.throws(() => parseVideoConfig({}, 'huge'), (e: unknown) => e instanceof GenloomError && /unknown video preset "huge"/.test(e.message));
});

test('a tiny model overfits one small batch of clips', () => {
  const network = new ClipVae(parseVideoConfig({ frames: 4 }, 'tiny'), fromSeed(1));
  const batch = clipBatch(network, 2);
  const optimizer = new AdamW(network.params);
  const lossAt = (seed: number) => tf.tidy(() => network.loss(batch, fromSeed(seed)).total.dataSync()[0]!);
  const initial = lossAt(0);
  for (let step = 0; step < 30; step++) {
    const { value, grads } = gradientsOf(network.params, () => network.loss(batch, fromSeed(step)).total);
    optimizer.apply(grads, 3e-3);
    tf.dispose([value, grads] as tf.TensorContainer);
  }
  const final = lossAt(999);
  // 4096 pixels near 0.5 start at ≈ 4096·ln 2 ≈ 2840 nats per frame; the mostly black frames come down fast.
  assert.ok(final < 0.5 * initial, `loss ${initial} → ${final} after 30 steps`);
  optimizer.dispose();
  tf.dispose(batch as unknown as tf.TensorContainer);
  network.dispose();
});

const root = tempDir();
function request(outDir: string, overrides: Partial<TrainRequest> = {}): TrainRequest {
  return { dataset: 'moving-mnist', outDir, seed: 4, steps: 4, batchSize: 2, resume: false, preset: 'tiny', config: { frames: 4 }, command: 'test', quiet: true, backend: 'native', ...overrides };
}

test('trains on moving-mnist, resumes exactly, loads, and generates clips by seed', async () => {
  const straight = join(root, 'straight');
  const summary = await videoFamily.train(request(straight));
  assert.equal(summary.steps, 4);
  assert.ok(Object.values(summary.last).every(Number.isFinite), 'finite losses');
  assert.ok(readFileSync(join(straight, 'samples.png')).length > 0, 'a preview of clips');
  const interrupted = join(root, 'interrupted');
  await videoFamily.train(request(interrupted, { shouldStop: (step) => step === 2 }));
  await videoFamily.train(request(interrupted, { resume: true, dataset: '', config: {} }));
  assert.deepEqual(readFileSync(join(interrupted, 'model.safetensors')), readFileSync(join(straight, 'model.safetensors')), 'resumed = uninterrupted');
  await assert.rejects(videoFamily.train(request(interrupted, { resume: true, steps: 5, config: { frames: 8 } })), /is for 4-frame clips; drop --frames 8/);

  const model = videoFamily.load(straight, readManifest(straight));
  const video = model.video!;
  assert.equal(model.family, 'video');
  assert.equal(model.conditional, true);
  assert.deepEqual(model.labelNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.deepEqual([video.frames, video.height, video.width, video.digitsPerClip], [4, 64, 64, 2]);
  const draw = (seed: number, digits?: number[][]) => video.generate({ count: 2, digits, random: fromSeed(seed) }).map((clip) => Array.from(clip.pixels));
  const first = draw(1, [[3, 7], [0, 9]]);
  assert.equal(first.length, 2);
  assert.equal(first[0]!.length, 4 * 64 * 64);
  assert.ok(first[0]!.every((value) => value >= 0 && value <= 1), 'pixels in [0, 1]');
  assert.deepEqual(draw(1, [[3, 7], [0, 9]]), first, 'same seed, same clips');
  assert.notDeepEqual(draw(2, [[3, 7], [0, 9]]), first, 'another seed, other clips');
  assert.deepEqual(draw(5), draw(5), 'random digits come from the seed too');
  assert.throws(() => video.generate({ count: 1, frames: 8, random: fromSeed(1) }), (e: unknown) => e instanceof GenloomError && e.message.includes(`${straight} was trained for 4-frame clips; --frames 8`));
  assert.throws(() => video.generate({ count: 1, digits: [[3, 12]], random: fromSeed(1) }), /digits from 0 to 9/);

  const before = tf.memory().numTensors;
  const metrics = await model.evaluate!({ seed: 1, limit: 2, samples: 2, quiet: true });
  assert.equal(tf.memory().numTensors, before, 'evaluation leaks no tensors');
  assert.equal(metrics['family'], 'video');
  assert.equal(metrics['clips'], 2);
  const reconstruction = metrics['reconstruction'] as { psnr: number; psnrByFrame: number[] };
  assert.equal(reconstruction.psnrByFrame.length, 4);
  assert.ok(Number.isFinite(reconstruction.psnr));
  const temporal = metrics['temporal'] as { frameChangeRatio: number; steadyInkFraction: number };
  assert.ok(Number.isFinite(temporal.frameChangeRatio) && temporal.steadyInkFraction >= 0 && temporal.steadyInkFraction <= 1);
  model.dispose();
});

test('another dataset is refused with the one it accepts', async () => {
  await assert.rejects(videoFamily.train(request(join(root, 'mnist'), { dataset: 'mnist' })), (e: unknown) => e instanceof GenloomError && /moving-mnist/.test(e.message) && /"mnist"/.test(e.message));
});
