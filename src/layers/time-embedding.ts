/**
 * The time embedding every denoising network shares (the image U-Net and the voxel U-Net): integer
 * diffusion steps as sines and cosines of geometrically spaced frequencies.
 */
import * as tf from '../core/tf.ts';

/** Sinusoidal embedding of integer steps (Vaswani et al. 2017), `dim` wide. */
export function timeEmbedding(steps: ArrayLike<number>, dim: number): tf.Tensor2D {
  const half = Math.floor(dim / 2);
  const values = new Float32Array(steps.length * dim);
  for (let i = 0; i < steps.length; i++) {
    for (let j = 0; j < half; j++) {
      const angle = steps[i]! * Math.exp((-Math.log(10_000) * j) / half);
      values[i * dim + j] = Math.sin(angle);
      values[i * dim + half + j] = Math.cos(angle);
    }
  }
  return tf.tensor2d(values, [steps.length, dim]);
}
