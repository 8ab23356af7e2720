import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine } from '../../core/engine.ts';
import { gradientsOf } from '../../core/params.ts';
import { fromSeed } from '../../core/random.ts';
import * as tf from '../../core/tf.ts';
import { AdamW } from '../../train/adam.ts';
import { parsePixelCnnConfig } from './config.ts';
import { PixelCnn } from './pixelcnn.ts';
import { samplePixelCnn } from './sampler.ts';

await initEngine();

/** Pixels (row, column) whose input changes the logit at `target`: the gradient's non-zero entries. */
function dependencies(model: PixelCnn, height: number, width: number, target: [number, number], labels?: tf.Tensor1D): Set<string> {
  const input = tf.tensor4d(fromSeed(5).uniformArray(height * width), [1, height, width, 1]);
  const gradient = tf.grad((x: tf.Tensor) => model.logits(x as tf.Tensor4D, labels).slice([0, target[0], target[1], 0], [1, 1, 1, 1]).sum())(input);
  const values = gradient.dataSync();
  tf.dispose([input, gradient]);
  const seen = new Set<string>();
  values.forEach((value, i) => {
    if (value !== 0) seen.add(`${Math.floor(i / width)},${i % width}`);
  });
  return seen;
}

test('masked convolutions are causal: a logit never depends on its own pixel or later ones, and sees every earlier pixel in reach', () => {
  for (const overrides of [
    { features: 4, layers: 0, inputKernel: 3, headChannels: 32 },
    { features: 4, layers: 3, inputKernel: 5, kernel: 3, headChannels: 32 },
    { features: 4, layers: 2, inputKernel: 7, kernel: 5, headChannels: 32, classes: 3 },
  ]) {
    // A wide head, so no pixel's ReLUs are all dead by chance (that would hide a dependency).
    const config = parsePixelCnnConfig({ ...overrides, imageHeight: 9, imageWidth: 10 }, 'tiny');
    const model = new PixelCnn(config, fromSeed(2));
    const labels = config.classes ? tf.tensor1d([1], 'int32') : undefined;
    for (const target of [[0, 0], [0, 6], [4, 5], [8, 9], [5, 0]] as [number, number][]) {
      const seen = dependencies(model, 9, 10, target, labels);
      for (const pixel of seen) {
        const [row, column] = pixel.split(',').map(Number) as [number, number];
        assert.ok(row < target[0] || (row === target[0] && column < target[1]), `logit ${target} depends on pixel ${pixel} (config ${JSON.stringify(overrides)})`);
        assert.ok(target[0] - row <= model.reach, `pixel ${pixel} is beyond the declared reach ${model.reach} of ${target}`);
      }
      // No blind spot: the pixel just left and the pixel just above are always seen.
      if (target[1] > 0) assert.ok(seen.has(`${target[0]},${target[1] - 1}`), `logit ${target} misses its left neighbour`);
      if (target[0] > 0) assert.ok(seen.has(`${target[0] - 1},${target[1]}`), `logit ${target} misses the pixel above (config ${JSON.stringify(overrides)}: ${[...seen].join(' ')})`);
      if (target[0] > 0 && target[1] < 9) assert.ok(seen.has(`${target[0] - 1},${target[1] + 1}`), `logit ${target} misses the pixel above right (the blind spot)`);
    }
    labels?.dispose();
    model.dispose();
  }
});

test('a tiny PixelCNN overfits a tiny batch of binary images', () => {
  const config = parsePixelCnnConfig({ imageHeight: 8, imageWidth: 8 }, 'tiny');
  const model = new PixelCnn(config, fromSeed(3));
  const random = fromSeed(4);
  const images = tf.tensor4d(Float32Array.from(random.uniformArray(4 * 64), (u) => (u < 0.3 ? 1 : 0)), [4, 8, 8, 1]);
  const optimizer = new AdamW(model.params);
  const nll = () => tf.tidy(() => model.negativeLogLikelihood(images).mean().dataSync()[0]!);
  const before = nll();
  for (let step = 0; step < 150; step++) {
    const { value, grads } = gradientsOf(model.params, () => model.loss({ images }).total);
    optimizer.apply(grads, 1e-2);
    tf.dispose([value, grads] as tf.TensorContainer);
  }
  const after = nll();
  assert.ok(before > 35, `starts near 64·ln2 = 44 nats (got ${before})`);
  assert.ok(after < 10, `memorises 4 images of 64 pixels: ${before.toFixed(1)} → ${after.toFixed(1)} nats`);
  optimizer.dispose();
  images.dispose();
  model.dispose();
});

test('sampling is seeded, keeps the given rows when completing, and the band equals the full image', () => {
  const config = parsePixelCnnConfig({ imageHeight: 12, imageWidth: 6, layers: 1, inputKernel: 3, classes: 2 }, 'tiny');
  const model = new PixelCnn(config, fromSeed(6));
  const labels = [0, 1, 1];
  const first = samplePixelCnn(model, 3, fromSeed(9), { labels });
  const second = samplePixelCnn(model, 3, fromSeed(9), { labels });
  const other = samplePixelCnn(model, 3, fromSeed(10), { labels });
  assert.deepEqual(first.dataSync(), second.dataSync());
  assert.notDeepEqual(first.dataSync(), other.dataSync());
  assert.ok(first.dataSync().every((v) => v === 0 || v === 1));
  // Sampling runs each pass on a band of `reach` rows; logits of the last band row must equal the full image's.
  const full = tf.tidy(() => model.logits(first, tf.tensor1d(labels, 'int32')).slice([0, 11, 0, 0], [3, 1, 6, 1]).dataSync());
  const top = 11 - model.reach;
  const band = tf.tidy(() => model.logits(first.slice([0, top, 0, 0], [3, 12 - top, 6, 1]), tf.tensor1d(labels, 'int32')).slice([0, 12 - top - 1, 0, 0], [3, 1, 6, 1]).dataSync());
  for (let i = 0; i < full.length; i++) assert.ok(Math.abs(full[i]! - band[i]!) < 1e-5, `band logit ${i}: ${band[i]} vs ${full[i]}`);
  const given = Float32Array.from(first.dataSync(), (v) => 1 - v);
  const completed = samplePixelCnn(model, 3, fromSeed(11), { labels, given, fromRow: 5 }).dataSync();
  for (let image = 0; image < 3; image++) {
    for (let i = 0; i < 5 * 6; i++) assert.equal(completed[image * 72 + i], given[image * 72 + i], 'the given rows are kept');
  }
  tf.dispose([first, second, other]);
  model.dispose();
});
