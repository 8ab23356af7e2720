/**
 * Latent-space tools for any family with a latent space: interpolation, attribute vectors and the
 * decoded manifold. They see a model only through `LatentModel` (encode/decode), so the GAN and
 * diffusion families reuse them unchanged.
 */
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';
import type { LatentModel } from '../models/family.ts';

/**
 * Linear interpolation: (1 − t)·a + t·b.
 *
 * @example
 * lerp(Float32Array.of(0, 0), Float32Array.of(2, 4), 0.5); // Float32Array [1, 2]
 */
export function lerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  return a.map((value, i) => (1 - t) * value + t * b[i]!);
}

/**
 * Spherical interpolation (Shoemake 1985; White 2016 for generative models): follows the great
 * circle between a and b, so intermediate points keep the norm a Gaussian latent typically has,
 * where a straight line would pass through the unlikely region near the origin.
 *
 * @example
 * const halfway = slerp(fromSeed(1).normalArray(16), fromSeed(2).normalArray(16), 0.5);
 */
export function slerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    normA += a[i]! ** 2;
    normB += b[i]! ** 2;
  }
  const cosine = Math.min(1, Math.max(-1, dot / Math.sqrt(normA * normB || 1)));
  const omega = Math.acos(cosine);
  if (Math.abs(Math.sin(omega)) < 1e-6) return lerp(a, b, t); // (anti)parallel: the arc is undefined
  const wa = Math.sin((1 - t) * omega) / Math.sin(omega);
  const wb = Math.sin(t * omega) / Math.sin(omega);
  return a.map((value, i) => wa * value + wb * b[i]!);
}

export type InterpolationMethod = 'linear' | 'spherical';

/**
 * `frames` latents from a to b inclusive.
 *
 * @example
 * const path = interpolate(za, zb, 8, 'spherical'); // 8 latents, za and zb included
 */
export function interpolate(a: Float32Array, b: Float32Array, frames: number, method: InterpolationMethod): Float32Array[] {
  if (!Number.isInteger(frames) || frames < 2) throw new GenloomError('BAD_ARGUMENT', `--frames must be an integer of at least 2 (got ${frames})`);
  const mix = method === 'spherical' ? slerp : lerp;
  return Array.from({ length: frames }, (_, i) => mix(a, b, i / (frames - 1)));
}

/**
 * Posterior means of `images` in chunks, as rows.
 *
 * @example
 * const images = imagesToTensor([readImage('seven.png')]); // 28×28 greyscale, like the model's data
 * const [z] = encodeMeans(model.latent!, images);
 * images.dispose();
 */
export function encodeMeans(model: LatentModel, images: tf.Tensor4D, chunk = 500): Float32Array[] {
  const encode = model.encode;
  if (!encode) throw new GenloomError('UNSUPPORTED', 'this model has no encoder: it cannot map images to latents (use seeds instead)');
  const rows: Float32Array[] = [];
  for (let start = 0; start < images.shape[0]; start += chunk) {
    const size = Math.min(chunk, images.shape[0] - start);
    const values = tf.tidy(() => encode(images.slice([start, 0, 0, 0], [size, -1, -1, -1])).mean.dataSync());
    for (let i = 0; i < size; i++) rows.push(Float32Array.from(values.subarray(i * model.latentDim, (i + 1) * model.latentDim)));
  }
  return rows;
}

/**
 * Decodes latent rows (with one condition row each for conditional models) into an image batch.
 *
 * @example
 * writeImageGrid('walk.png', decodeRows(model.latent!, interpolate(za, zb, 8, 'spherical')), 8);
 */
export function decodeRows(model: LatentModel, rows: Float32Array[], conditions?: Float32Array[]): tf.Tensor4D {
  return tf.tidy(() => {
    const stack = (values: Float32Array[], width: number) => {
      const flat = new Float32Array(values.length * width);
      values.forEach((row, i) => flat.set(row, i * width));
      return tf.tensor2d(flat, [values.length, width]);
    };
    return model.decode(stack(rows, model.latentDim), conditions ? stack(conditions, model.conditionDim ?? 0) : undefined);
  });
}

/**
 * The element-wise mean of latent rows; EMPTY_DATASET for none.
 *
 * @example
 * meanRow([Float32Array.of(0, 2), Float32Array.of(2, 4)]); // Float32Array [1, 3]
 */
export function meanRow(rows: Float32Array[]): Float32Array {
  if (rows.length === 0) throw new GenloomError('EMPTY_DATASET', 'cannot average an empty set of latents');
  const out = new Float32Array(rows[0]!.length);
  for (const row of rows) for (let i = 0; i < out.length; i++) out[i]! += row[i]!;
  return out.map((value) => value / rows.length);
}

/**
 * An attribute vector: the mean latent of examples that have the attribute minus the mean of those
 * that do not (Larsen et al. 2016; White 2016). Adding `strength` times it to a latent adds the
 * attribute ("more smile"); a negative strength removes it.
 *
 * @example
 * const seven = attributeVector(encodeMeans(latent, sevens), encodeMeans(latent, others));
 * const moreSeven = addScaled(z, seven, 1.5);
 */
export function attributeVector(withAttribute: Float32Array[], without: Float32Array[]): Float32Array {
  if (withAttribute.length === 0) throw new GenloomError('EMPTY_DATASET', 'no examples have the attribute, so it has no direction');
  if (without.length === 0) throw new GenloomError('EMPTY_DATASET', 'every example has the attribute; give examples without it too');
  const positive = meanRow(withAttribute);
  const negative = meanRow(without);
  return positive.map((value, i) => value - negative[i]!);
}

/**
 * z + strength · direction: moves a latent along an attribute vector.
 *
 * @example
 * const moreSeven = addScaled(z, attributeVector(sevens, others), 1.5); // negative: less
 */
export function addScaled(z: Float32Array, direction: Float32Array, strength: number): Float32Array {
  return z.map((value, i) => value + strength * direction[i]!);
}

/**
 * Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9).
 *
 * @example
 * normalQuantile(0.975); // 1.959963…
 */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/**
 * The decoded manifold of a 2-D latent (Kingma & Welling 2014, fig. 4): a size × size grid of z at
 * evenly spaced quantiles of N(0, 1), so each cell covers equal prior probability. Rows run from
 * high z₂ (top) to low, columns from low z₁ to high.
 *
 * @example
 * // A model with latentDim 2: its decoded manifold as a 20 × 20 grid.
 * writeImageGrid('manifold.png', decodeRows(model.latent!, manifoldLatents(20)), 20);
 */
export function manifoldLatents(size: number): Float32Array[] {
  const rows: Float32Array[] = [];
  for (let row = 0; row < size; row++) {
    for (let column = 0; column < size; column++) {
      rows.push(Float32Array.of(normalQuantile((column + 0.5) / size), normalQuantile(1 - (row + 0.5) / size)));
    }
  }
  return rows;
}
