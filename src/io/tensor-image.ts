/**
 * Between image tensors and image files.
 */
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';
import { imageGrid, readImage, resizeImage, scaleUp, toChannels, writePng, type ImageData01 } from './image.ts';

/**
 * Splits an image batch [B, H, W, C] into images (values clamped to [0, 1]); disposes nothing.
 *
 * @example
 * const images = tensorToImages(batch);
 * batch.dispose();
 * images.forEach((image, i) => writePng(`sample-${i}.png`, image));
 */
export function tensorToImages(batch: tf.Tensor4D): ImageData01[] {
  const [count, height, width, channels] = batch.shape;
  const data = batch.dataSync();
  const size = height * width * channels;
  return Array.from({ length: count }, (_, i) => ({
    width,
    height,
    channels: channels as 1 | 3,
    data: Float32Array.from(data.subarray(i * size, (i + 1) * size), (value) => Math.min(1, Math.max(0, value))),
  }));
}

/**
 * Stacks same-size images into one batch [B, H, W, C]; the caller disposes it.
 *
 * @example
 * const batch = imagesToTensor([readImage('a.png'), readImage('b.png')]); // [2, H, W, C]
 */
export function imagesToTensor(images: ImageData01[]): tf.Tensor4D {
  const { height, width, channels } = images[0]!;
  const size = height * width * channels;
  const data = new Float32Array(images.length * size);
  images.forEach((image, i) => data.set(image.data, i * size));
  return tf.tensor4d(data, [images.length, height, width, channels]);
}

/**
 * Reads image files and fits them to a model's [height, width, channels]. `invert` turns dark-on-light
 * drawings into the light-on-dark of MNIST-style training data.
 */
export function readImagesForModel(paths: string[], shape: [number, number, number], invert = false, model?: string): tf.Tensor4D {
  return imagesToTensor(paths.map((path) => fitImageForModel(readImage(path), shape, invert, model ? { path, model } : undefined)));
}

/**
 * One image fitted to a model's [height, width, channels] (and inverted, if asked). With `source`
 * (a file the user gave a model), a colour image for a greyscale model is refused rather than
 * silently turned grey: a grey model cannot do what a colour input asks of it. (Images whose
 * channels are all equal decode as grey, so a grey drawing saved as RGB passes.)
 */
export function fitImageForModel(image: ImageData01, shape: [number, number, number], invert = false, source?: { path: string; model: string }): ImageData01 {
  const [height, width, channels] = shape;
  if (source && image.channels === 3 && channels === 1) {
    throw new GenloomError('SHAPE_MISMATCH', `${source.path} is a colour image, but ${source.model} is a greyscale (1-channel) model: give it a greyscale image`);
  }
  const fitted = resizeImage(toChannels(image, channels as 1 | 3), width, height);
  return invert ? { ...fitted, data: fitted.data.map((value) => 1 - value) } : fitted;
}

/** Small images are enlarged (nearest neighbour) so a grid of 28×28 digits is pleasant to look at. */
export function displayScale(image: { width: number }): number {
  return image.width < 64 ? 2 : 1;
}

/**
 * Writes a batch as one PNG grid and disposes the batch.
 *
 * @example
 * writeImageGrid('grid.png', model.sampleImages!(16, fromSeed(1).fork('sample'))); // = genloom sample --n 16 --seed 1
 */
export function writeImageGrid(path: string, batch: tf.Tensor4D, columns?: number): void {
  const images = tensorToImages(batch);
  batch.dispose();
  writeImagesGrid(path, images, columns);
}

/** Images as one PNG grid (square unless `columns` is given), enlarged for viewing like writeImageGrid. */
export function writeImagesGrid(path: string, images: ImageData01[], columns?: number): void {
  const grid = imageGrid(images, columns ? { columns } : {});
  writePng(path, scaleUp(grid, displayScale(images[0]!)));
}
