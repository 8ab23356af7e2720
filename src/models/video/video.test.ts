import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initEngine } from '../../core/engine.ts';
import { GenloomError } from '../../core/errors.ts';
import { gradientsOf } from '../../core/params.ts';
import { fromSeed } from '../../core/random.ts';
import * as tf from '../../core/tf.ts';
import { compositeClip, gatherClips, gatherLayers, movingMnist } from '../../data/moving-mnist.ts';
import { readManifest } from '../../io/checkpoint.ts';
import { AdamW } from '../../train/adam.ts';
import { tempDir } from '../../../test/fixtures.ts';
import type { TrainRequest } from '../family.ts';
import { ClipVae, type ClipBatch } from './clip-vae.ts';
import { parseVideoConfig, storedVideoConfig, type FrameVaeConfig, type LayeredConfig } from './config.ts';
import { largestComponents } from './evaluate.ts';
import { LayeredClipModel } from './layered.ts';
import { videoFamily } from './index.ts';

await initEngine();

const frameVae = (overrides: Record<string, unknown>, preset = 'small') => parseVideoConfig({ design: 'frame-vae', ...overrides }, preset) as FrameVaeConfig;
const layered = (overrides: Record<string, unknown>, preset = 'small') => parseVideoConfig({ design: 'layered', ...overrides }, preset) as LayeredConfig;

/** A few real clips of `frames` frames, as a training batch for `network`. */
function clipBatch(network: ClipVae, clips: number): ClipBatch {
  const data = movingMnist({ split: 'train', frames: network.config.frames, count: clips });
  const { frames, digits } = gatherClips(data, Array.from({ length: clips }, (_, i) => i));
  return { frames, condition: network.condition(digits) };
}

test('shapes follow the config, losses are finite, and nothing leaks, for two configs', () => {
  for (const overrides of [{ frames: 3 }, { frames: 2, latentDim: 3, convChannels: [4, 8], hiddenUnits: 16, dynamicsUnits: 8, digitsPerClip: 1 }]) {
    const config = frameVae(overrides, 'tiny');
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
  const network = new ClipVae(frameVae({ frames: 5, latentDim: 3, dynamicsUnits: 6 }, 'tiny'), fromSeed(7));
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

test('config validation gives clear errors, and a checkpoint config from before the layered design reads as a frame VAE', () => {
  assert.throws(() => frameVae({ latentDim: 0 }), (e: unknown) => e instanceof GenloomError && /latentDim/.test(e.message));
  assert.throws(() => frameVae({ frameSize: 60 }), (e: unknown) => e instanceof GenloomError && /divisible by 8/.test(e.message));
  assert.throws(() => parseVideoConfig({}, 'huge'), (e: unknown) => e instanceof GenloomError && /unknown video preset "huge"/.test(e.message));
  assert.throws(() => parseVideoConfig({ design: 'diffusion' }), (e: unknown) => e instanceof GenloomError && /design must be one of layered, frame-vae \(got "diffusion"\)/.test(e.message));
  assert.throws(() => layered({ latentDim: 8 }), (e: unknown) => e instanceof GenloomError && /latentDim/.test(e.message), 'a frame-VAE option on a layered model is named');
  assert.equal(parseVideoConfig({}).design, 'layered', 'new runs are layered');
  // The config.json of the video model shipped before the layered design (2026-11).
  const old = { frames: 16, frameSize: 64, digitsPerClip: 2, classes: 10, latentDim: 16, convChannels: [16, 32, 64], hiddenUnits: 256, dynamicsUnits: 128, beta: 1, inputNoise: 0.1, sampleTemperature: 0.6 };
  assert.equal(storedVideoConfig(old).design, 'frame-vae');
});

test('the model composites as the renderer does: a clip is its own layers stamped with max', () => {
  const data = movingMnist({ split: 'train', frames: 6, count: 3 });
  for (let i = 0; i < 3; i++) {
    const rendered = data.clip(i);
    assert.deepEqual(compositeClip(rendered.glyphs, rendered.tracks, 6, 64), rendered.clip.pixels);
    for (const value of rendered.tracks) assert.ok(value >= 0 && value <= 36, 'corners inside the frame');
  }
  const network = new LayeredClipModel(layered({ frames: 6 }, 'tiny'), fromSeed(1));
  const rendered = [data.clip(0), data.clip(1)];
  const glyphs = Float32Array.from([...rendered[0]!.glyphs, ...rendered[1]!.glyphs]);
  const tracks = Float32Array.from([...rendered[0]!.tracks, ...rendered[1]!.tracks]);
  assert.deepEqual(network.composite(glyphs, tracks, 6), Float32Array.from([...rendered[0]!.clip.pixels, ...rendered[1]!.clip.pixels]));
  network.dispose();
});

test('layered: a tiny model overfits a small batch (glyphs and paths), and its rollout follows a learnt path', () => {
  const config = layered({ frames: 6, mixtures: 2, inputNoise: 0 }, 'tiny');
  const network = new LayeredClipModel(config, fromSeed(2));
  const data = movingMnist({ split: 'train', frames: 6, count: 2 });
  const { glyphs, tracks, digits } = gatherLayers(data, [0, 1]);
  const batch = { glyphs, tracks, labels: network.labels(digits) };
  const before = tf.memory().numTensors;
  const partsAt = (seed: number) => tf.tidy(() => Object.fromEntries(Object.entries(network.loss(batch, fromSeed(seed)).parts).map(([name, value]) => [name, value.dataSync()[0]!])));
  const initial = partsAt(0);
  assert.equal(tf.memory().numTensors, before, 'the loss leaks nothing');
  const optimizer = new AdamW(network.params);
  for (let step = 0; step < 150; step++) {
    const { value, grads } = gradientsOf(network.params, () => network.loss(batch, fromSeed(step)).total);
    optimizer.apply(grads, 1e-2);
    tf.dispose([value, grads] as tf.TensorContainer);
  }
  const final = partsAt(999);
  assert.ok(final['reconstruction']! < 0.5 * initial['reconstruction']!, `glyph reconstruction ${initial['reconstruction']} → ${final['reconstruction']}`);
  assert.ok(final['path']! < initial['path']! - 2, `path NLL ${initial['path']} → ${final['path']} nats`);
  // Given the first three corners (two moves: one digit here bounces off a wall at frame 1, which
  // a single move cannot tell from a slow digit), the most likely path continues close to the true one.
  const truth = tracks.dataSync() as Float32Array;
  const given = truth.filter((_, i) => Math.floor(i / 2) % 6 < 3);
  const rolled = network.rollOutPaths(4, 6, undefined, { tracks: given, frames: 3 });
  let error = 0;
  for (let i = 0; i < truth.length; i++) error = Math.max(error, Math.abs(rolled[i]! - truth[i]!));
  assert.ok(error < 3, `rolled-out corners within 3 px of the true path (worst ${error.toFixed(2)})`);
  const sampled = network.generate([3, 7], 6, fromSeed(5));
  assert.deepEqual(network.generate([3, 7], 6, fromSeed(5)), sampled, 'same seed, same clip');
  assert.ok(sampled.tracks.every((value) => value >= 0 && value <= 36), 'sampled corners stay inside the frame');
  optimizer.dispose();
  tf.dispose(batch as unknown as tf.TensorContainer);
  network.dispose();
});

test('digit reading finds the two digits of a clip where they are apart, and one component where they touch', () => {
  const glyph = new Float32Array(28 * 28);
  for (let y = 6; y < 22; y++) for (let x = 12; x < 16; x++) glyph[y * 28 + x] = 1; // a bar, 4 × 16 px
  const apart = compositeClip(Float32Array.from([...glyph, ...glyph]), Float32Array.of(0, 0, 36, 30), 1, 64);
  assert.deepEqual(largestComponents(apart, 64, 2).map(({ x, y }) => [x, y]), [[14, 14], [50, 44]]);
  const touching = compositeClip(Float32Array.from([...glyph, ...glyph]), Float32Array.of(0, 0, 3, 2), 1, 64);
  assert.equal(largestComponents(touching, 64, 2).length, 1);
});

test('a tiny model overfits one small batch of clips', () => {
  const network = new ClipVae(frameVae({ frames: 4 }, 'tiny'), fromSeed(1));
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
function baseRequest(outDir: string, overrides: Partial<TrainRequest> = {}): TrainRequest {
  return { dataset: 'moving-mnist', outDir, seed: 4, steps: 4, batchSize: 2, resume: false, preset: 'tiny', config: { frames: 4 }, command: 'test', quiet: true, backend: 'native', ...overrides };
}

for (const design of ['layered', 'frame-vae'] as const)
test(`${design}: trains on moving-mnist, resumes exactly, loads, generates clips by seed, and is evaluated`, async () => {
  const request = (outDir: string, overrides: Partial<TrainRequest> = {}) => requestFor(join(design, outDir), overrides);
  const requestFor = (outDir: string, overrides: Partial<TrainRequest>) => baseRequest(join(root, outDir), { ...overrides, config: overrides.config ?? { frames: 4, design } });
  const straight = join(root, design, 'straight');
  const summary = await videoFamily.train(request('straight'));
  assert.equal(summary.steps, 4);
  assert.ok(Object.values(summary.last).every(Number.isFinite), 'finite losses');
  assert.ok(readFileSync(join(straight, 'samples.png')).length > 0, 'a preview of clips');
  assert.equal((readManifest(straight).config as { design: string }).design, design);
  const interrupted = join(root, design, 'interrupted');
  await videoFamily.train(request('interrupted', { shouldStop: (step) => step === 2 }));
  await videoFamily.train(request('interrupted', { resume: true, dataset: '', config: {} }));
  assert.deepEqual(readFileSync(join(interrupted, 'model.safetensors')), readFileSync(join(straight, 'model.safetensors')), 'resumed = uninterrupted');
  await assert.rejects(videoFamily.train(request('interrupted', { resume: true, steps: 5, config: { frames: 8 } })), /is for 4-frame clips; drop --frames 8/);

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
  const motion = metrics['motion'] as { ratio: number; steadyInkFraction: number };
  assert.ok(Number.isFinite(motion.ratio) && motion.steadyInkFraction >= 0 && motion.steadyInkFraction <= 1);
  const digits = metrics['digits'] as Record<string, number>;
  assert.ok(digits['perFrameAccuracy']! >= 0 && digits['perFrameAccuracy']! <= 1);
  assert.ok(digits['perFrameAccuracyReal']! > 0.3, `the classifier reads real clips (${digits['perFrameAccuracyReal']})`);
  assert.equal('atKnownPositions' in digits, design === 'layered', 'positions are known to the layered design only');
  assert.ok(Number.isFinite(metrics['fd_clip_features'] as number));
  model.dispose();
});

test('another dataset is refused with the one it accepts', async () => {
  await assert.rejects(videoFamily.train(baseRequest(join(root, 'mnist'), { dataset: 'mnist' })), (e: unknown) => e instanceof GenloomError && /moving-mnist/.test(e.message) && /"mnist"/.test(e.message));
});
