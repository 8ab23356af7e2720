/**
 * Binary images from greyscale ones, for the models with a Bernoulli likelihood (the VAE's and the
 * PixelCNN's), the setting of the published MNIST likelihoods:
 * - training draws a fresh binarization every time ("dynamic binarization", Salakhutdinov & Murray
 *   2008): each pixel is 1 with probability equal to its intensity;
 * - evaluation binarizes the test set once with a fixed seed, so every evaluation of every model
 *   sees the same binary test set. It is not the Larochelle & Murray file, so comparisons with
 *   published figures hold to about a nat.
 */
import * as tf from '../core/tf.ts';
import { fromSeed, type Random } from '../core/random.ts';
import type { ImageDataset } from './image-dataset.ts';

export const testBinarizationSeed = 'genloom-test-binarization';

export function binarize(images: tf.Tensor4D, random: Random): tf.Tensor4D {
  return tf.tidy(() => {
    const thresholds = tf.tensor(random.uniformArray(images.size), images.shape);
    return tf.cast(tf.less(thresholds, images), 'float32') as tf.Tensor4D;
  });
}

/** The dataset binarized once with the fixed test seed. */
export function fixedBinarization(dataset: ImageDataset): ImageDataset {
  const random = fromSeed(testBinarizationSeed).fork(dataset.name, dataset.split);
  const pixels = new Float32Array(dataset.pixels.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = random.uniform() < dataset.pixels[i]! ? 1 : 0;
  return { ...dataset, pixels };
}
