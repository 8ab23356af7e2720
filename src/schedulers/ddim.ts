/**
 * DDIM (Song et al. 2021) over any subsequence of steps, with η from 0 (deterministic) to 1; DDPM's
 * ancestral sampler is η = 1 on the full sequence (Ho et al. 2020), so `ddpm` is this with η = 1.
 *
 *   x_s = √ᾱ_s·x̂_0 + √(1 − ᾱ_s − σ²)·ε̂ + σ·z,   σ = η·√((1 − ᾱ_s)/(1 − ᾱ_t))·√(1 − ᾱ_t/ᾱ_s)
 */
import * as tf from '../core/tf.ts';
import { alphaBarAt } from './noise-schedule.ts';
import { estimates, finishStep, gaussianLike, timesteps, type SampleRequest, type Sampler } from './sampler.ts';

export const ddim: Sampler = (request) => {
  const eta = request.eta ?? 0;
  const steps = timesteps(request);
  let x = tf.clone(request.start);
  steps.forEach((t, index) => {
    const s = steps[index + 1] ?? 0;
    const next = tf.tidy(() => {
      const { x0, noise } = estimates(request, x, t);
      const alphaT = alphaBarAt(request.schedule, t);
      const alphaS = alphaBarAt(request.schedule, s);
      const sigma = eta * Math.sqrt((1 - alphaS) / (1 - alphaT)) * Math.sqrt(Math.max(0, 1 - alphaT / alphaS));
      let out = tf.add(tf.mul(x0, Math.sqrt(alphaS)), tf.mul(noise, Math.sqrt(Math.max(0, 1 - alphaS - sigma * sigma))));
      if (sigma > 0) out = tf.add(out, tf.mul(gaussianLike(x, request.random.fork('step', index)), sigma));
      return finishStep(request, index, t, s, out as tf.Tensor4D, x0);
    });
    x.dispose();
    x = next;
  });
  return x;
};

/** DDPM's ancestral sampler: DDIM with η = 1. */
export const ddpm: Sampler = (request: SampleRequest) => ddim({ ...request, eta: 1 });
