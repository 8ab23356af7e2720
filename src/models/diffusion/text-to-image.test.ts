import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initEngine } from '../../core/engine.ts';
import * as tf from '../../core/tf.ts';
import { fromSeed } from '../../core/random.ts';
import { readManifest } from '../../io/checkpoint.ts';
import { captionColours, colourShapeImage, tempDir, writeCaptionedFolder, writeShapeFolder } from '../../../test/fixtures.ts';
import { autoencoderFamily } from '../autoencoder/index.ts';
import { clipFamily } from '../clip/index.ts';
import type { TrainRequest } from '../family.ts';
import { diffusionFamily } from './index.ts';
import { buildDiffusion } from './build.ts';
import { loadCheckpoint } from '../../io/checkpoint.ts';
import { readTokenizer } from '../../text/tokenizer.ts';
import { generateImages } from '../../generate/images.ts';
import { writePng } from '../../io/image.ts';
import { diffusionDpoLoss, finetuneDiffusionDpo } from './dpo.ts';

await initEngine();
const root = tempDir();
const dataset = writeCaptionedFolder(join(root, 'toy'), 2);
const request = (outDir: string, extra: Partial<TrainRequest>): TrainRequest => ({
  dataset, outDir, seed: 1, resume: false, preset: 'tiny', imageSize: 16, config: {}, command: 'test', quiet: true, backend: 'native', ...extra,
});
const clipDir = join(root, 'clip');
const aeDir = join(root, 'ae');
const t2iDir = join(root, 't2i');

/** The caption colour nearest an image's mean non-white colour. */
function nearestColour(pixels: Float32Array, size: number): string {
  const sum = [0, 0, 0];
  let count = 0;
  for (let i = 0; i < size * size; i++) {
    const rgb = [pixels[i * 3]!, pixels[i * 3 + 1]!, pixels[i * 3 + 2]!];
    if (rgb.every((value) => value > 0.8)) continue;
    rgb.forEach((value, c) => (sum[c]! += value));
    count += 1;
  }
  const mean = sum.map((value) => value / Math.max(1, count));
  let best = '';
  let bestDistance = Infinity;
  for (const [name, rgb] of Object.entries(captionColours)) {
    const distance = rgb.reduce((total, value, c) => total + (value - mean[c]!) ** 2, 0);
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return best;
}

test('the autoencoder learns a round trip to its spatial latent and records the latent scale', async () => {
  await clipFamily.train(request(clipDir, { steps: 60, batchSize: 16, learningRate: 3e-3, config: { tokenizer: 'char', augmentShift: 0 } }));
  const summary = await autoencoderFamily.train(request(aeDir, { steps: 250, batchSize: 16, learningRate: 3e-3 }));
  assert.ok(summary.last['l1']! < 0.2, `mean L1 (data range [−1, 1]) after training ${summary.last['l1']}`);
  const manifest = readManifest(aeDir);
  const scale = manifest.training['latentScale'] as number;
  assert.ok(scale > 0 && Number.isFinite(scale));
  const model = autoencoderFamily.load(aeDir, manifest);
  // The scale is 1/std of the posterior means: scaled latents have unit spread.
  const images = tf.tensor4d(Float32Array.from([...colourShapeImage('red', 'ring', 3).data, ...colourShapeImage('blue', 'square', 4).data]), [2, 16, 16, 3]);
  const { mean } = model.latent!.encode!(images);
  assert.equal(mean.shape[1], 8 * 8 * 2, '16×16 → 8×8×2 with the tiny preset');
  const rebuilt = model.latent!.decode(mean);
  const error = tf.mean(tf.abs(tf.sub(rebuilt, images))).dataSync()[0]!;
  assert.ok(error < 0.1, `round-trip error ${error}`);
  const metrics = await model.evaluate!({ seed: 0, quiet: true, samples: 100 }).catch((e: Error) => ({ error: e.message }));
  assert.ok('reconstruction' in metrics || /clip model/.test(String((metrics as { error?: string }).error)), JSON.stringify(metrics).slice(0, 200));
  tf.dispose([images, mean, rebuilt]);
  model.dispose();
});

test('a tiny text-to-image model learns captions apart, and refuses parts of the wrong family', async () => {
  await assert.rejects(diffusionFamily.train(request(join(root, 'bad'), { steps: 1, config: { autoencoderDir: clipDir } })), /--autoencoder .*clip is a clip model; latent diffusion needs an autoencoder/);
  await assert.rejects(diffusionFamily.train(request(join(root, 'bad'), { steps: 1, config: { textEncoderDir: aeDir } })), /--text-encoder .*ae is a autoencoder model; text conditioning needs a clip model/);
  const plain = writeShapeFolder(join(root, 'plain'), 2, 16);
  await assert.rejects(diffusionFamily.train(request(join(root, 'bad'), { dataset: plain, steps: 1, config: { textEncoderDir: clipDir } })), /has no captions/);
  await assert.rejects(diffusionFamily.train(request(join(root, 'bad'), { steps: 1, imageSize: 8, config: { autoencoderDir: aeDir } })), /--autoencoder .*ae works on 16×16×3 images but the dataset gives 8×8×3/);
  // Learning the captions apart: text conditioning on 8×8 pixels (the latent path is the same U-Net; its wiring is tested below).
  const small = writeCaptionedFolder(join(root, 'toy8'), 2, 8);
  const summary = await diffusionFamily.train(request(join(root, 'text8'), { dataset: small, imageSize: 8, steps: 300, batchSize: 16, learningRate: 3e-3, config: { textEncoderDir: clipDir, emaDecay: 0.9, baseChannels: 16, attentionHeads: 2, timesteps: 100, patchSize: 1 } }));
  assert.ok(Number.isFinite(summary.last['loss']));
  const model = diffusionFamily.load(join(root, 'text8'), readManifest(join(root, 'text8')));
  let right = 0;
  const colours = ['red', 'blue', 'green', 'yellow'];
  for (const colour of colours) {
    const { images } = generateImages(model, { seed: 5, n: 4, prompt: `a ${colour} square`, sampler: 'ddim', steps: 20, guidance: 3 });
    right += images.filter((image) => nearestColour(image.data, 8) === colour).length;
  }
  // Chance is about 1 in 4 (the colour of a random caption).
  assert.ok(right / 16 >= 0.75, `${right} of 16 samples in the asked colour`);
  model.dispose();
  // The latent text-to-image model trains through the same path.
  const latentConfig = { autoencoderDir: aeDir, textEncoderDir: clipDir, baseChannels: 16, attentionHeads: 2, timesteps: 100 };
  const latent = await diffusionFamily.train(request(t2iDir, { steps: 30, batchSize: 8, config: latentConfig }));
  assert.ok(Number.isFinite(latent.last['loss']));
  // Resumed, it encodes its training latents with the autoencoder it carries, and ends as the uninterrupted run.
  const interrupted = join(root, 't2i-interrupted');
  await diffusionFamily.train(request(interrupted, { steps: 30, batchSize: 8, config: latentConfig, shouldStop: (step) => step === 15 }));
  await diffusionFamily.train(request(interrupted, { steps: 30, batchSize: 8, resume: true, dataset: '' }));
  assert.ok(readFileSync(join(interrupted, 'model.safetensors')).equals(readFileSync(join(t2iDir, 'model.safetensors'))), 'the resumed latent run differs from the uninterrupted one');
});

test('guidance with an empty prompt is the unconditional output; img2img at strength 0 is the input; inpainting keeps known pixels', () => {
  const { weights } = loadCheckpoint(t2iDir, { expectFamily: 'diffusion' });
  const { network } = buildDiffusion(readManifest(t2iDir), weights, 't2i', {}, readTokenizer(t2iDir));
  const empty = network.sample(2, fromSeed(1), { prompts: ['', ''], guidance: 6, sampler: 'ddim', steps: 5 });
  const unguided = network.sample(2, fromSeed(1), { guidance: 0, sampler: 'ddim', steps: 5 });
  assert.deepEqual(Array.from(empty.dataSync()), Array.from(unguided.dataSync()));
  const images = tf.tensor4d(Float32Array.from([...colourShapeImage('red', 'ring', 3).data, ...colourShapeImage('green', 'square', 5).data]), [2, 16, 16, 3]);
  const same = network.img2img(images, 0, fromSeed(2), { prompts: ['a blue ring', 'a blue ring'] });
  assert.deepEqual(Array.from(same.dataSync()), Array.from(images.dataSync()));
  const mask = tf.tidy(() => tf.concat([tf.zeros([1, 8, 16, 1]), tf.ones([1, 8, 16, 1])], 1) as tf.Tensor4D); // fill the lower half
  const filled = network.inpaint(images, mask, fromSeed(3), { prompts: ['a red ring', 'a green square'], sampler: 'ddim', steps: 5 });
  assert.deepEqual(Array.from(filled.slice([0, 0, 0, 0], [2, 8, 16, 3]).dataSync()), Array.from(images.slice([0, 0, 0, 0], [2, 8, 16, 3]).dataSync()));
  assert.throws(() => network.sample(1, fromSeed(1), { prompts: ['a', 'b'] }), /2 prompts for 1 images/);
  tf.dispose([empty, unguided, images, same, mask, filled]);
  network.dispose();
});

test('the Diffusion-DPO loss equals a hand-computed case', () => {
  const t = (values: number[]) => tf.tensor1d(values);
  const [policyWin, policyLose, referenceWin, referenceLose] = [t([0.2, 0.4]), t([0.5, 0.1]), t([0.3, 0.3]), t([0.4, 0.3])];
  const { loss, rewardAccuracy, rewardMargin } = diffusionDpoLoss(policyWin, policyLose, referenceWin, referenceLose, 2);
  // Pair 1: ((0.2 − 0.3) − (0.5 − 0.4)) · −½·2 = 0.2; pair 2: ((0.4 − 0.3) − (0.1 − 0.3)) · −1 = −0.3.
  const want = (Math.log1p(Math.exp(-0.2)) + Math.log1p(Math.exp(0.3))) / 2;
  assert.ok(Math.abs(loss.dataSync()[0]! - want) < 1e-6, `${loss.dataSync()[0]} vs ${want}`);
  assert.equal(rewardAccuracy.dataSync()[0], 0.5);
  assert.ok(Math.abs(rewardMargin.dataSync()[0]! + 0.05) < 1e-6);
  assert.throws(() => diffusionDpoLoss(policyWin, policyLose, referenceWin, referenceLose, 0), /--beta must be a number > 0/);
  tf.dispose([policyWin, policyLose, referenceWin, referenceLose, loss, rewardAccuracy, rewardMargin]);
});

test('a Diffusion-DPO fine-tune from image preferences trains, records its parent and loads', async () => {
  const files = { red: join(root, 'red.png'), blue: join(root, 'blue.png') };
  writePng(files.red, colourShapeImage('red', 'square', 7, 16));
  writePng(files.blue, colourShapeImage('blue', 'square', 7, 16));
  const outDir = join(root, 'dpo');
  const imagePairs = [{ prompt: 'a red square', chosen: files.red, rejected: files.blue }, { prompt: 'a blue square', chosen: files.blue, rejected: files.red }];
  await assert.rejects(finetuneDiffusionDpo({ parentDir: t2iDir, pairs: [], imagePairs: [], outDir, beta: 500, steps: 2, batchSize: 2, learningRate: 1e-4, seed: 0, command: 'test', backend: 'native', quiet: true }), /no image preferences/);
  const summary = await finetuneDiffusionDpo({ parentDir: t2iDir, pairs: [], imagePairs, outDir, beta: 500, steps: 6, batchSize: 2, learningRate: 1e-4, seed: 0, command: 'test', backend: 'native', quiet: true });
  assert.equal(summary.steps, 6);
  assert.ok(Number.isFinite(summary.last['loss']) && 'rewardAccuracy' in summary.last);
  const manifest = readManifest(outDir);
  assert.equal(manifest.training['method'], 'diffusion-dpo');
  assert.ok(manifest.parent?.endsWith('t2i'));
  const model = diffusionFamily.load(outDir, manifest);
  const { images } = generateImages(model, { seed: 1, n: 1, prompt: 'a red square', sampler: 'ddim', steps: 3 });
  assert.equal(images.length, 1);
  model.dispose();
});
