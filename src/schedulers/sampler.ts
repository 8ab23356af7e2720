/**
 * The one interface every diffusion sampler implements, and what they share: the timesteps they
 * visit and turning a network output (ε or v) into estimates of x_0 and ε. Samplers know nothing
 * about networks: they call `denoise(x_t, t)`.
 */
import * as tf from '../core/tf.ts';
import type { Random } from '../core/random.ts';
import { GenloomError } from '../core/errors.ts';
import { alphaBarAt, type NoiseSchedule } from './noise-schedule.ts';

export type PredictionTarget = 'epsilon' | 'v';

/** The network: noisy images x_t at integer step t (1…T) → its prediction (ε or v), same shape. */
export type Denoiser = (x: tf.Tensor4D, t: number) => tf.Tensor4D;

export interface SampleRequest {
  schedule: NoiseSchedule;
  prediction: PredictionTarget;
  denoise: Denoiser;
  /** Where to start: pure noise x_T (the caller draws it, so a seed fixes it), or x at `startStep`. */
  start: tf.Tensor4D;
  /** The step `start` is at (default T). Lower starts from a partly noised image: SDEdit's img2img. */
  startStep?: number;
  /** How many network evaluations (≤ the start step); the steps are spread evenly over 1…start. */
  steps: number;
  /** Noise for stochastic samplers. */
  random: Random;
  /** DDIM's η: 0 deterministic, 1 as stochastic as DDPM. */
  eta?: number;
  /** Clip the x_0 estimate to the data range [−1, 1] (images). */
  /** Clip the x̂₀ estimate to [−1, 1] (true), to [−c, c] (a number c), or not at all. */
  clip?: boolean | number;
  /**
   * Replaces each new x (at step s, 0 at the end) with a constrained one, e.g. inpainting puts the
   * known pixels back, noised to step s. Returns a new tensor.
   */
  constrain?(x: tf.Tensor4D, s: number): tf.Tensor4D;
  /** Called after each step with the new x and the x_0 estimate it came from (not kept: copy what you need). */
  onStep?(index: number, t: number, x: tf.Tensor4D, x0: tf.Tensor4D): void;
}

/** A sampler: noise → sample, one `denoise` call per step. */
export type Sampler = (request: SampleRequest) => tf.Tensor4D;

/** The steps a request visits, descending: `steps` evenly spaced values in 1…start, always including start. */
export function timesteps(request: Pick<SampleRequest, 'schedule' | 'startStep' | 'steps'>): number[] {
  const total = request.schedule.steps;
  const from = request.startStep ?? total;
  if (!Number.isInteger(from) || from < 1 || from > total) throw new GenloomError('BAD_ARGUMENT', `the start step must be 1..${total} (got ${from})`);
  const count = request.steps;
  if (!Number.isInteger(count) || count < 1 || count > from) throw new GenloomError('BAD_ARGUMENT', `--steps must be 1..${from} for this model (got ${count})`);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(Math.round(from - (i * from) / count));
  return out;
}

/** The end of one step at s: the constraint (if any), then the onStep callback. Returns the new x. */
export function finishStep(request: SampleRequest, index: number, t: number, s: number, x: tf.Tensor4D, x0: tf.Tensor4D): tf.Tensor4D {
  const out = request.constrain ? request.constrain(x, s) : x;
  request.onStep?.(index, t, out, x0);
  return out;
}

/** Estimates of x_0 and ε from the network output at step t. */
export function estimates(request: SampleRequest, x: tf.Tensor4D, t: number): { x0: tf.Tensor4D; noise: tf.Tensor4D } {
  return tf.tidy(() => {
    const alphaBar = alphaBarAt(request.schedule, t);
    const a = Math.sqrt(alphaBar);
    const b = Math.sqrt(1 - alphaBar);
    const output = request.denoise(x, t);
    let x0: tf.Tensor4D;
    let noise: tf.Tensor4D;
    if (request.prediction === 'v') {
      x0 = tf.sub(tf.mul(x, a), tf.mul(output, b)) as tf.Tensor4D;
      noise = tf.add(tf.mul(x, b), tf.mul(output, a)) as tf.Tensor4D;
    } else {
      noise = output;
      x0 = tf.div(tf.sub(x, tf.mul(output, b)), a) as tf.Tensor4D;
    }
    if (request.clip) {
      // Keep ε consistent with the clipped x_0, as DDIM implementations do.
      const bound = request.clip === true ? 1 : request.clip;
      x0 = tf.clipByValue(x0, -bound, bound) as tf.Tensor4D;
      noise = tf.div(tf.sub(x, tf.mul(x0, a)), b) as tf.Tensor4D;
    }
    return { x0, noise };
  });
}

export function gaussianLike(x: tf.Tensor4D, random: Random): tf.Tensor4D {
  return tf.tensor4d(random.normalArray(x.size), x.shape);
}
