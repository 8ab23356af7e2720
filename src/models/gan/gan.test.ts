import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { initEngine } from '../../core/engine.ts';
import { ParamBuilder } from '../../core/params.ts';
import { fromSeed } from '../../core/random.ts';
import * as tf from '../../core/tf.ts';
import { readSafetensors } from '../../io/safetensors.ts';
import { shapeDataset, tempDir, writeCaptionedFolder, writeShapeFolder } from '../../../test/fixtures.ts';
import { readManifest } from '../../io/checkpoint.ts';
import type { TrainRequest } from '../family.ts';
import { channelsForSize, parseGanConfig } from './config.ts';
import { Gan } from './gan.ts';
import { ganFamily } from './index.ts';
import { createCollapseMonitor } from './monitor.ts';
import { rejectionSample } from './rejection.ts';
import { addSpectralNorm, powerIterate, spectrallyNormalized } from './spectral-norm.ts';

await initEngine();

const root = tempDir();
const dataset = writeShapeFolder(join(root, 'shapes'), 16);

function request(outDir: string, overrides: Partial<TrainRequest> = {}): TrainRequest {
  return {
    dataset,
    outDir,
    seed: 5,
    steps: 6,
    batchSize: 8,
    resume: false,
    preset: 'tiny',
    imageSize: 16,
    config: { conditional: true },
    command: 'test',
    quiet: true,
    backend: 'wasm',
    ...overrides,
  };
}

test('power iteration finds the largest singular value, so W/σ has spectral norm 1', () => {
  const builder = new ParamBuilder(fromSeed('sn'));
  builder.weight('w', [3, 3, 4, 6], 36);
  addSpectralNorm(builder, 'w', 36, 6);
  const params = builder.params;
  for (let i = 0; i < 50; i++) powerIterate(params);
  const matrix = new Matrix(params['w']!.reshape([36, 6]).arraySync() as number[][]);
  const sigma = new SingularValueDecomposition(matrix).diagonal[0]!;
  const normalized = new Matrix(spectrallyNormalized(params, 'w').reshape([36, 6]).arraySync() as number[][]);
  const normalizedSigma = new SingularValueDecomposition(normalized).diagonal[0]!;
  assert.ok(sigma > 1.5, `the test weight is not already normalized (σ ${sigma})`);
  assert.ok(Math.abs(normalizedSigma - 1) < 1e-3, `σ(W/σ̂) = ${normalizedSigma}`);
});

test('a training step changes both networks and keeps the losses finite', async () => {
  const outDir = join(root, 'step');
  const config = parseGanConfig({ imageHeight: 16, imageWidth: 16, classes: 2 }, 'tiny');
  const initial = new Gan(config, fromSeed(5).fork('init'));
  const before = Object.fromEntries(Object.entries(initial.params).map(([name, value]) => [name, value.dataSync().slice()]));
  initial.dispose();
  const summary = await ganFamily.train(request(outDir, { steps: 2 }));
  for (const key of ['dLoss', 'gLoss', 'dRealAccuracy', 'dFakeAccuracy']) assert.ok(Number.isFinite(summary.last[key]), `${key} is logged and finite`);
  const after = readSafetensors(join(outDir, 'model.safetensors')).tensors;
  const changed = (prefix: string) => Object.keys(before).filter((name) => name.startsWith(prefix) && !name.includes('.sn_')).some((name) => {
    const a = before[name]!;
    const b = after.get(name)!.data;
    return a.some((value, i) => value !== b[i]);
  });
  assert.ok(changed('g.'), 'the generator moved');
  assert.ok(changed('d.'), 'the discriminator moved');
  assert.ok(changed('ema.'), 'the averaged generator moved');
});

test('resume reproduces an uninterrupted run (two optimizers, EMA and spectral-norm state)', async () => {
  const straight = join(root, 'straight');
  await ganFamily.train(request(straight));
  const interrupted = join(root, 'interrupted');
  const first = await ganFamily.train(request(interrupted, { shouldStop: (step) => step === 3 }));
  assert.equal(first.steps, 3);
  await ganFamily.train(request(interrupted, { resume: true, dataset: '', config: {}, command: 'genloom train gan --resume' }));
  const training = JSON.parse(readFileSync(join(interrupted, 'config.json'), 'utf8')).training;
  assert.equal(training.command, 'test', 'config.json keeps the command that started the run');
  assert.deepEqual(training.resumedWith, ['genloom train gan --resume'], 'and each --resume after it');
  assert.deepEqual(readFileSync(join(interrupted, 'model.safetensors')), readFileSync(join(straight, 'model.safetensors')));
  assert.deepEqual(readFileSync(join(interrupted, 'optimizer.safetensors')), readFileSync(join(straight, 'optimizer.safetensors')));
});

test('the same seed and label give the same samples; labels, truncation and rejection are honoured', async () => {
  const dir = join(root, 'straight');
  const { readManifest } = await import('../../io/checkpoint.ts');
  const model = ganFamily.load(dir, readManifest(dir));
  assert.equal(model.conditional, true);
  assert.deepEqual(model.labelNames, ['ring', 'square']);
  const draw = (seed: number, options = {}) => {
    const batch = model.sampleImages!(4, fromSeed(seed), options);
    const values = batch.dataSync().slice();
    batch.dispose();
    return values;
  };
  assert.deepEqual(draw(1, { labels: [0, 0, 1, 1] }), draw(1, { labels: [0, 0, 1, 1] }));
  assert.notDeepEqual(draw(1, { labels: [0, 0, 1, 1] }), draw(2, { labels: [0, 0, 1, 1] }));
  assert.notDeepEqual(draw(1, { labels: [0, 0, 0, 0] }), draw(1, { labels: [1, 1, 1, 1] }), 'the label changes the image');
  assert.notDeepEqual(draw(1, { truncation: 0.5 }), draw(1));
  assert.throws(() => draw(1, { truncation: 1.5 }), /truncation must be in \(0, 1\]/);
  assert.throws(() => draw(1, { truncation: 0 }), /truncation must be in \(0, 1\]/);
  assert.throws(() => draw(1, { labels: [0, 1, 2, 0] }), /label 2 is outside this model's labels 0..1/);
  const rejected = draw(3, { reject: true, labels: [1, 1, 1, 1] });
  assert.deepEqual(rejected, draw(3, { reject: true, labels: [1, 1, 1, 1] }), 'rejection sampling is seeded too');
  assert.ok(rejected.every((value) => value >= 0 && value <= 1), 'pixels in [0, 1]');
  model.dispose();
});

test('discriminator rejection keeps candidates the discriminator scores higher', () => {
  // Candidates whose logit is their index mod 10 (0…9): accepted ones should average well above 4.5.
  const logitsOf = (count: number, offset: number) => Float32Array.from({ length: count }, (_, i) => (offset + i) % 10);
  let proposed = 0;
  let lastLogits = new Float32Array(0);
  const kept: number[] = [];
  const { acceptanceRate } = rejectionSample(
    200,
    fromSeed('drs'),
    (slots) => {
      lastLogits = logitsOf(slots.length, proposed);
      proposed += slots.length;
      return { logits: lastLogits };
    },
    (_, candidate) => kept.push(lastLogits[candidate]!),
    { batchSize: 100 },
  );
  assert.ok(acceptanceRate > 0 && acceptanceRate < 1, `acceptance rate ${acceptanceRate}`);
  assert.equal(kept.length, 200);
  const mean = kept.reduce((sum, value) => sum + value, 0) / kept.length;
  assert.ok(mean > 5.5, `accepted candidates have mean logit ${mean}`);
});

test('--conditional on an unlabelled folder says so', async () => {
  const flat = join(root, 'flat');
  const { mkdirSync, copyFileSync } = await import('node:fs');
  mkdirSync(flat, { recursive: true });
  for (let i = 0; i < 4; i++) copyFileSync(join(dataset, 'ring', `${i}.png`), join(flat, `${i}.png`));
  await assert.rejects(ganFamily.train(request(join(root, 'nolabels'), { dataset: flat })), /--conditional needs labels, but .*flat is unlabelled/);
  assert.equal(tf.memory().numTensors >= 0, true);
});

test('layer lists fit 32×32 and 64×64 colour folders', () => {
  for (const size of [32, 64]) {
    const config = parseGanConfig({ imageHeight: size, imageWidth: size, channels: 3, ...channelsForSize(size, 'tiny') }, 'tiny');
    const gan = new Gan(config, fromSeed(1));
    const images = gan.sample(2, fromSeed(2));
    assert.deepEqual(images.shape, [2, size, size, 3]);
    const logits = gan.discriminate(images, null);
    assert.deepEqual(logits.shape, [2]);
    tf.dispose([images, logits]);
    gan.dispose();
  }
  assert.throws(() => parseGanConfig({ imageHeight: 28, imageWidth: 28, generatorChannels: [8, 8, 8] }), /must be divisible by 8 for 3 generator layers/);
});

test('the mode-collapse check warns when every sample is the same image', () => {
  const data = shapeDataset(64, 16);
  const config = parseGanConfig({ imageHeight: 16, imageWidth: 16, ...channelsForSize(16, 'tiny') }, 'tiny');
  const gan = new Gan(config, fromSeed(1));
  const logPath = join(root, 'monitor.jsonl');
  const check = createCollapseMonitor(data, 'shapes', logPath, true);
  assert.equal(check(gan, 5000).warning, undefined, 'a random generator still spreads its samples');
  // Zero every generator weight but the output bias: all samples become the same flat image.
  for (const [name, variable] of Object.entries(gan.params)) if (name.startsWith('ema.g.')) variable.assign(tf.zerosLike(variable));
  const collapsed = check(gan, 6000);
  assert.equal(collapsed.diversityRatio, 0);
  assert.match(collapsed.warning ?? '', /possible mode collapse at step 6000/);
  assert.equal(readFileSync(logPath, 'utf8').trim().split('\n').length, 2, 'each check is recorded in monitor.jsonl');
  gan.dispose();
});

test('a colour GAN trains on a folder of colour images: finite losses, RGB samples, seeded, reloaded bit-exact', async () => {
  const dataset = writeCaptionedFolder(join(root, 'colour'), 2);
  const outDir = join(root, 'colour-gan');
  const summary = await ganFamily.train({ dataset, outDir, seed: 3, steps: 20, batchSize: 8, resume: false, preset: 'tiny', imageSize: 16, config: {}, command: 'test', quiet: true, backend: 'native' });
  assert.ok(Object.values(summary.last).every(Number.isFinite), JSON.stringify(summary.last));
  const load = () => ganFamily.load(outDir, readManifest(outDir));
  const [first, second] = [load(), load()];
  assert.deepEqual(first.imageShape, [16, 16, 3]);
  const a = first.sampleImages!(3, fromSeed(1));
  const b = second.sampleImages!(3, fromSeed(1));
  assert.deepEqual(a.shape, [3, 16, 16, 3]);
  assert.deepEqual(a.dataSync(), b.dataSync(), 'same seed, same colour samples, after a reload');
  tf.dispose([a, b]);
  first.dispose();
  second.dispose();
});
