import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine } from '../../core/engine.ts';
import { gradientsOf } from '../../core/params.ts';
import { fromSeed } from '../../core/random.ts';
import * as tf from '../../core/tf.ts';
import { AdamW } from '../../train/adam.ts';
import { shapeDataset } from '../../../test/fixtures.ts';
import { alphaBarAt, makeSchedule } from '../../schedulers/noise-schedule.ts';
import { UNet, depthToSpace, spaceToDepth, type UNetConfig } from './unet.ts';

await initEngine();

const config: UNetConfig = { imageHeight: 12, imageWidth: 12, channels: 1, classes: 2, baseChannels: 8, channelMultipliers: [1, 2], groups: 4, patchSize: 1 };

test('the U-Net maps noisy images, steps and labels to a prediction of the same shape; labels change it', () => {
  const unet = new UNet(config, fromSeed(1));
  // Perturb the zero-initialised output layer so the output depends on the inputs.
  unet.params['out.weight']!.assign(tf.randomNormal(unet.params['out.weight']!.shape, 0, 0.1, 'float32', 3));
  const x = tf.tensor4d(fromSeed('x').normalArray(2 * 144), [2, 12, 12, 1]);
  const a = unet.apply(x, [10, 500], [0, 1]);
  const b = unet.apply(x, [10, 500], [1, 1]);
  const c = unet.apply(x, [10, 500], null);
  assert.deepEqual(a.shape, [2, 12, 12, 1]);
  assert.notDeepEqual(a.dataSync().slice(0, 144), b.dataSync().slice(0, 144), 'the label changes the prediction');
  assert.deepEqual(a.dataSync().slice(144), b.dataSync().slice(144), 'images with the same label agree');
  assert.notDeepEqual(c.dataSync(), a.dataSync(), 'no label is its own embedding');
  tf.dispose([x, a, b, c]);
  unet.dispose();
});

test('a tiny U-Net learns to predict the noise on a tiny batch (the ε loss falls)', () => {
  const unet = new UNet(config, fromSeed(2));
  const schedule = makeSchedule('cosine', 100);
  const data = shapeDataset(4, 12);
  const images = tf.tidy(() => tf.sub(tf.mul(tf.tensor4d(data.pixels, [4, 12, 12, 1]), 2), 1) as tf.Tensor4D);
  const optimizer = new AdamW(unet.params);
  const lossAt = (step: number) => {
    const random = fromSeed('batch').fork(step % 8);
    const steps = Array.from({ length: 4 }, () => 1 + random.integer(100));
    const noise = tf.tensor4d(random.normalArray(4 * 144), [4, 12, 12, 1]);
    const scales = steps.map((t) => alphaBarAt(schedule, t));
    const a = tf.tensor4d(scales.map(Math.sqrt), [4, 1, 1, 1]);
    const b = tf.tensor4d(scales.map((s) => Math.sqrt(1 - s)), [4, 1, 1, 1]);
    const { value, grads } = gradientsOf(unet.params, () => {
      const noisy = tf.add(tf.mul(images, a), tf.mul(noise, b)) as tf.Tensor4D;
      return tf.mean(tf.square(tf.sub(unet.apply(noisy, steps, Array.from(data.labels!)), noise))) as tf.Scalar;
    });
    optimizer.apply(grads, 3e-3);
    const loss = value.dataSync()[0]!;
    tf.dispose([value, grads, noise, a, b] as tf.TensorContainer);
    return loss;
  };
  const first = [0, 1, 2, 3, 4, 5, 6, 7].map(lossAt).reduce((s, v) => s + v, 0) / 8;
  for (let step = 8; step < 80; step++) lossAt(step);
  const last = [80, 81, 82, 83, 84, 85, 86, 87].map(lossAt).reduce((s, v) => s + v, 0) / 8;
  assert.ok(last < first * 0.6, `ε loss fell from ${first.toFixed(3)} to ${last.toFixed(3)}`);
  tf.dispose(images);
  optimizer.dispose();
  unet.dispose();
});

test('patches fold into channels in row-major order and unfold back exactly; a patch-2 U-Net keeps the image shape', () => {
  const x = tf.tensor4d(Float32Array.from({ length: 2 * 4 * 6 * 3 }, (_, i) => i), [2, 4, 6, 3]);
  const folded = spaceToDepth(x, 2);
  assert.deepEqual(folded.shape, [2, 2, 3, 12]);
  // The first folded pixel holds pixels (0,0), (0,1), (1,0), (1,1) of the first image, 3 channels each.
  const pixel = (row: number, column: number) => [0, 1, 2].map((c) => (row * 6 + column) * 3 + c);
  assert.deepEqual(Array.from(folded.dataSync().slice(0, 12)), [...pixel(0, 0), ...pixel(0, 1), ...pixel(1, 0), ...pixel(1, 1)]);
  assert.deepEqual(depthToSpace(folded, 2).dataSync(), x.dataSync());
  const unet = new UNet({ ...config, patchSize: 2 }, fromSeed(4));
  const out = unet.apply(tf.zeros([3, 12, 12, 1]) as tf.Tensor4D, [1, 2, 3], [0, 1, 2]);
  assert.deepEqual(out.shape, [3, 12, 12, 1]);
  tf.dispose([x, folded, out]);
  unet.dispose();
});
