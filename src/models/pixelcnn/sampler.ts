/**
 * Ancestral sampling from a PixelCNN: one pixel at a time in raster order, each drawn from its
 * Bernoulli given the pixels already drawn. Completion is the same loop started part-way, with the
 * given rows kept.
 *
 * Row i's logits depend only on rows i − reach … i (the model's receptive field), so each forward
 * pass runs on that band of rows instead of the whole image: the result is identical, and sampling a
 * 28×28 image costs about a third of the full passes.
 */
import * as tf from '../../core/tf.ts';
import type { Random } from '../../core/random.ts';
import type { PixelCnn } from './pixelcnn.ts';

export interface PixelSamplingOptions {
  /** One label per image (conditional models). */
  labels?: ArrayLike<number>;
  /** Images to continue [count, H, W] flattened, 0/1; rows before `fromRow` are kept. */
  given?: Float32Array;
  /** The first row to draw (0: a new image). */
  fromRow?: number;
  /** Called after each row with the rows done so far. */
  onRow?(rowsDone: number): void;
}

/** Draws `count` binary images [count, H, W, 1]; the same `random` gives the same images. */
export function samplePixelCnn(model: PixelCnn, count: number, random: Random, options: PixelSamplingOptions = {}): tf.Tensor4D {
  const { imageHeight: height, imageWidth: width } = model.config;
  const fromRow = options.fromRow ?? 0;
  const pixels = new Float32Array(count * height * width);
  if (options.given) {
    if (options.given.length !== pixels.length) throw new Error(`given images hold ${options.given.length} pixels, expected ${pixels.length}`);
    for (let image = 0; image < count; image++) {
      const start = image * height * width;
      pixels.set(options.given.subarray(start, start + fromRow * width), start);
    }
  }
  const labels = options.labels && model.conditional ? tf.tensor1d(Int32Array.from(options.labels), 'int32') : undefined;
  if (model.conditional && !labels) throw new Error('a conditional PixelCNN needs one label per image');
  try {
    for (let row = fromRow; row < height; row++) {
      const top = Math.max(0, row - model.reach);
      const bandHeight = row - top + 1;
      for (let column = 0; column < width; column++) {
        const probabilities = tf.tidy(() => {
          const band = tf.tensor4d(bandOf(pixels, count, height, width, top, bandHeight), [count, bandHeight, width, 1]);
          const logits = model.logits(band, labels);
          return tf.sigmoid(logits.slice([0, bandHeight - 1, column, 0], [count, 1, 1, 1])).dataSync() as Float32Array;
        });
        const draws = random.fork('pixel', row, column).uniformArray(count);
        for (let image = 0; image < count; image++) {
          pixels[image * height * width + row * width + column] = draws[image]! < probabilities[image]! ? 1 : 0;
        }
      }
      options.onRow?.(row + 1);
    }
  } finally {
    labels?.dispose();
  }
  return tf.tensor4d(pixels, [count, height, width, 1]);
}

/** A copy of rows top … top + rows − 1 of every image (the tensor must not alias the array being filled). */
function bandOf(pixels: Float32Array, count: number, height: number, width: number, top: number, rows: number): Float32Array {
  const band = new Float32Array(count * rows * width);
  for (let image = 0; image < count; image++) {
    const start = image * height * width + top * width;
    band.set(pixels.subarray(start, start + rows * width), image * rows * width);
  }
  return band;
}
