import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine } from '../../core/engine.ts';
import { GenloomError } from '../../core/errors.ts';
import { gradientsOf } from '../../core/params.ts';
import { fromSeed } from '../../core/random.ts';
import * as tf from '../../core/tf.ts';
import { gatherImages } from '../../data/image-dataset.ts';
import { colourShapeImage, shapeDataset } from '../../../test/fixtures.ts';
import { AdamW } from '../../train/adam.ts';
import { parseVaeConfig } from './config.ts';
import { evaluateVae } from './evaluate.ts';
import { Vae } from './vae.ts';

await initEngine();

const lossValue = (vae: Vae, images: tf.Tensor4D, seed: number) =>
  tf.tidy(() => vae.loss(images, fromSeed(seed)).total.dataSync()[0]!);

test('shapes follow the config, for several configs', () => {
  for (const [overrides, height] of [
    [{ latentDim: 3, convChannels: [4, 8], hiddenUnits: 16 }, 28],
    [{ latentDim: 5, convChannels: [4], hiddenUnits: 8, likelihood: 'gaussian', channels: 3 }, 12],
    [{ latentDim: 2, convChannels: [2, 4, 8], hiddenUnits: 8 }, 16],
  ] as const) {
    const config = parseVaeConfig({ ...overrides, imageHeight: height, imageWidth: height });
    const vae = new Vae(config, fromSeed(1));
    const before = tf.memory().numTensors;
    const images = tf.zeros([3, height, height, config.channels]) as tf.Tensor4D;
    const { mean, logVariance } = vae.encode(images);
    assert.deepEqual(mean.shape, [3, config.latentDim]);
    assert.deepEqual(logVariance.shape, [3, config.latentDim]);
    const decoded = vae.decode(mean);
    assert.deepEqual(decoded.shape, [3, height, height, config.channels]);
    const { total, parts } = vae.loss(images, fromSeed(2));
    assert.ok(Number.isFinite(total.dataSync()[0]!));
    assert.ok(Number.isFinite(parts.kl.dataSync()[0]!) && parts.kl.dataSync()[0]! >= 0);
    tf.dispose([images, mean, logVariance, decoded, total, parts] as tf.TensorContainer);
    assert.equal(tf.memory().numTensors, before, 'no tensors leak');
    vae.dispose();
  }
});

test('config validation gives clear errors', () => {
  assert.throws(() => parseVaeConfig({ latentDim: 0 }), (e: unknown) => e instanceof GenloomError && /latentDim/.test(e.message));
  assert.throws(() => parseVaeConfig({ imageHeight: 30 }), (e: unknown) => e instanceof GenloomError && /divisible by 4/.test(e.message));
  assert.throws(() => parseVaeConfig({}, 'huge'), (e: unknown) => e instanceof GenloomError && /unknown VAE preset "huge"/.test(e.message));
  assert.throws(() => parseVaeConfig({ likelihood: 'poisson' }), (e: unknown) => e instanceof GenloomError && /likelihood/.test(e.message));
});

test('the Bernoulli log-likelihood matches the formula', () => {
  const vae = new Vae(parseVaeConfig({}, 'tiny'), fromSeed(1));
  const logits = tf.tensor4d([2, -1, 0, 30], [1, 2, 2, 1]);
  const images = tf.tensor4d([1, 0, 1, 0], [1, 2, 2, 1]);
  // log p(x|l) = x·l − log(1 + eˡ), in double precision.
  const expected = [2, -1, 0, 30].reduce((sum, l, i) => sum + [1, 0, 1, 0][i]! * l - (l > 0 ? l + Math.log1p(Math.exp(-l)) : Math.log1p(Math.exp(l))), 0);
  const actual = vae.logLikelihood(images, logits).dataSync()[0]!;
  assert.ok(Math.abs(actual - expected) < 1e-4, `${actual} vs ${expected}`);
  tf.dispose([logits, images]);
  vae.dispose();
});

test('a tiny VAE overfits a batch of 64 images', () => {
  const data = shapeDataset(64);
  const vae = new Vae(parseVaeConfig({ latentDim: 4, convChannels: [8, 16], hiddenUnits: 64 }), fromSeed(1));
  const images = gatherImages(data, Array.from({ length: 64 }, (_, i) => i));
  const optimizer = new AdamW(vae.params);
  const initial = lossValue(vae, images, 0);
  for (let step = 0; step < 150; step++) {
    const { value, grads } = gradientsOf(vae.params, () => vae.loss(images, fromSeed(step)).total);
    optimizer.apply(grads, 3e-3);
    tf.dispose([value, grads] as tf.TensorContainer);
  }
  const final = lossValue(vae, images, 999);
  // 784 binary pixels start near 784·ln 2 ≈ 543 nats; memorising 64 simple shapes gets far below.
  assert.ok(initial > 450, `initial loss ${initial}`);
  assert.ok(final < 120, `final loss ${final} after overfitting (from ${initial})`);
  optimizer.dispose();
  images.dispose();
  vae.dispose();
});

test('the same seed gives the same samples; another seed does not', () => {
  const vae = new Vae(parseVaeConfig({}, 'tiny'), fromSeed(4));
  const a = vae.sample(4, fromSeed(9));
  const b = vae.sample(4, fromSeed(9));
  const c = vae.sample(4, fromSeed(10));
  assert.deepEqual(a.dataSync(), b.dataSync());
  assert.notDeepEqual(a.dataSync(), c.dataSync());
  tf.dispose([a, b, c]);
  const again = new Vae(parseVaeConfig({}, 'tiny'), fromSeed(4));
  assert.deepEqual(vae.params['decoder.hidden.weight']!.dataSync(), again.params['decoder.hidden.weight']!.dataSync(), 'same init seed, same weights');
  vae.dispose();
  again.dispose();
});

test('the IWAE bound is at least as tight as the ELBO and tightens with k', async () => {
  const data = shapeDataset(16);
  const vae = new Vae(parseVaeConfig({ latentDim: 4, convChannels: [4, 8], hiddenUnits: 16 }), fromSeed(2));
  const before = tf.memory().numTensors;
  const k1 = await evaluateVae(vae, data, { importanceSamples: 1, limit: 16, seed: 1, quiet: true });
  const k64 = await evaluateVae(vae, data, { importanceSamples: 64, limit: 16, seed: 1, quiet: true });
  assert.equal(tf.memory().numTensors, before);
  // With k = 1 the IWAE estimate is an ELBO estimate: close to the negative ELBO.
  assert.ok(Math.abs(k1.iwaeNll - k1.negativeElbo) < 0.05 * k1.negativeElbo, `${k1.iwaeNll} vs ${k1.negativeElbo}`);
  assert.ok(k64.iwaeNll < k1.iwaeNll, `k=64 bound ${k64.iwaeNll} is tighter than k=1 ${k1.iwaeNll}`);
  assert.ok(k64.iwaeNll > 0 && k64.reconstructionMse >= 0 && k64.kl >= 0);
  vae.dispose();
});

test('a colour VAE (σ-VAE Gaussian) overfits the coloured toy shapes and samples by seed', () => {
  const pixels = new Float32Array(16 * 16 * 16 * 3);
  const colours = ['red', 'green', 'blue', 'yellow'] as const;
  for (let i = 0; i < 16; i++) pixels.set(colourShapeImage(colours[i % 4]!, i % 2 ? 'ring' : 'square', i).data, i * 768);
  const images = tf.tensor4d(pixels, [16, 16, 16, 3]);
  const vae = new Vae(parseVaeConfig({ imageHeight: 16, imageWidth: 16, channels: 3, likelihood: 'gaussian', latentDim: 8 }, 'tiny'), fromSeed(1));
  const optimizer = new AdamW(vae.params);
  const mse = () => tf.tidy(() => tf.mean(tf.squaredDifference(vae.decode(vae.encode(images).mean), images)).dataSync()[0]!);
  const initial = mse();
  for (let step = 0; step < 150; step++) {
    const { value, grads } = gradientsOf(vae.params, () => vae.loss(images, fromSeed(step)).total);
    optimizer.apply(grads, 3e-3);
    tf.dispose([value, grads] as tf.TensorContainer);
  }
  const final = mse();
  assert.ok(final < initial / 3, `reconstruction error ${final} after overfitting (from ${initial})`);
  const a = vae.sample(2, fromSeed(5));
  const b = vae.sample(2, fromSeed(5));
  assert.deepEqual(a.shape, [2, 16, 16, 3]);
  assert.deepEqual(a.dataSync(), b.dataSync(), 'the same seed gives the same colour samples');
  tf.dispose([a, b, images]);
  optimizer.dispose();
  vae.dispose();
});
