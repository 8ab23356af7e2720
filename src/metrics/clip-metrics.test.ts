import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { initEngine } from '../core/engine.ts';
import * as tf from '../core/tf.ts';
import { loadImageDataset } from '../data/index.ts';
import { clipFamily } from '../models/clip/index.ts';
import type { ContrastiveModel } from '../models/family.ts';
import { colourShapeImage, tempDir, writeCaptionedFolder } from '../../test/fixtures.ts';
import { parseReward } from '../feedback/rewards.ts';
import { newManifest } from '../io/checkpoint.ts';
import { clipImageFeatures, clipScore, evaluateColourGenerator, fidClipOfImageSets } from './clip-metrics.ts';

await initEngine();
const root = tempDir();

/** A stand-in contrastive model: an image's vector is its mean colour, normalised; texts are looked up. */
const fake: ContrastiveModel = {
  embedDim: 3,
  imageShape: [2, 2, 3],
  logitScale: 1,
  embedImages: (images) => tf.tidy(() => {
    const mean = tf.mean(images, [1, 2]) as tf.Tensor2D;
    return tf.div(mean, tf.norm(mean, 'euclidean', 1, true)) as tf.Tensor2D;
  }),
  embedTexts: (texts) => tf.tensor2d(texts.map((text) => (text === 'red' ? [1, 0, 0] : [0, 0, 1]))),
};

test('CLIP score is the mean cosine of each image with its own text', () => {
  const images = { count: 2, dim: 3, data: Float32Array.of(0.6, 0.8, 0, 0, 0.6, 0.8) };
  // (0.6, 0.8, 0)·red = 0.6; (0, 0.6, 0.8)·blue = 0.8.
  assert.ok(Math.abs(clipScore(fake, images, ['red', 'blue']) - 0.7) < 1e-6);
});

test('images larger than the clip model reads are averaged down by a whole factor first', () => {
  // A 4×4 image whose 2×2 blocks average to pure red in the top-left only: the mean is still reddish.
  const image = tf.tensor4d(Float32Array.from({ length: 48 }, (_, i) => (i % 3 === 0 ? 1 : 0)), [1, 4, 4, 3]);
  const features = clipImageFeatures(fake, image);
  assert.deepEqual(Array.from(features.dataSync()).map((value) => Number(value.toFixed(5))), [1, 0, 0]);
  assert.throws(() => clipImageFeatures(fake, tf.zeros([1, 2, 2, 1]) as tf.Tensor4D), /reads 3-channel images; these have 1/);
  tf.dispose([image, features]);
});

const dataset = writeCaptionedFolder(join(root, 'toy'), 4);
const clipDir = join(root, 'clip');
await clipFamily.train({ dataset, outDir: clipDir, seed: 0, steps: 150, batchSize: 16, learningRate: 3e-3, resume: false, preset: 'tiny', imageSize: 16, config: { tokenizer: 'char', augmentShift: 0 }, command: 'test', quiet: true, backend: 'native' });

test('fid_clip: real images score near the reference, flat grey far from it', () => {
  const data = loadImageDataset(dataset, { split: 'train', height: 16, width: 16, channels: 3 });
  const judge = (generate: (count: number) => tf.Tensor4D) =>
    evaluateColourGenerator({ imageShape: [16, 16, 3], conditional: false, generate }, { dataset, clipDir, samples: 32, seed: 0, quiet: true });
  const real = judge((count) => tf.tensor4d(data.pixels.slice(0, count * 768), [count, 16, 16, 3]));
  const grey = judge((count) => tf.fill([count, 16, 16, 3], 0.5) as tf.Tensor4D);
  const reference = real['reference'] as Record<string, number>;
  assert.ok((real['fid_clip'] as number) <= reference['fid_clip']! + 1e-3, `the real images themselves: ${real['fid_clip']} vs ${reference['fid_clip']}`);
  assert.ok((grey['fid_clip'] as number) > 10 * Math.max(reference['fid_clip']!, 1e-3), `grey ${grey['fid_clip']} vs reference ${reference['fid_clip']}`);
  assert.ok((grey['recall'] as number) < (real['recall'] as number));
  assert.ok(reference['clip_score_caption']! > 0, 'captions match their images better than not');
  assert.throws(() => evaluateColourGenerator({ imageShape: [16, 16, 1], conditional: false, generate: () => tf.zeros([1, 16, 16, 1]) as tf.Tensor4D }, { dataset, clipDir, seed: 0, quiet: true }), /for colour models; this one makes 1-channel/);
  // The same measure on image sets (what feedback report compares): the same figure for the same images.
  const sets = fidClipOfImageSets(dataset, [16, 16, 3], [{ pixels: data.pixels.slice(0, 32 * 768), count: 32 }, { pixels: new Float32Array(32 * 768).fill(0.5), count: 32 }], clipDir);
  assert.equal(sets.fids[0], real['fid_clip']);
  assert.equal(sets.fids[1], grey['fid_clip']);
});

test('the clip:TEXT reward prefers images of the text, and hits only where the text beats most captions', () => {
  const reward = parseReward(`clip:a blue square@${clipDir}`, newManifest('gan', {}, { step: 0, dataset }), 'g');
  assert.equal(reward.kind, 'image');
  const images = tf.tensor4d(Float32Array.from([...colourShapeImage('red', 'ring', 700).data, ...colourShapeImage('blue', 'square', 701).data]), [2, 16, 16, 3]);
  const { rewards, hits } = (reward as Extract<typeof reward, { kind: 'image' }>).score(images);
  assert.ok(rewards[1]! > rewards[0]!, `blue square ${rewards[1]} vs red ring ${rewards[0]}`);
  assert.ok(rewards.every((value) => value >= 0 && value <= 1));
  assert.deepEqual([...hits], [0, 1]);
  reward.dispose();
  images.dispose();
  assert.throws(() => parseReward('clip:@' + clipDir, newManifest('gan', {}, { step: 0 }), 'g'), /names no text/);
  assert.throws(() => parseReward('clip:a cat', newManifest('transformer', {}, { step: 0 }), 'lm'), /scores images, but lm is a transformer model/);
});
