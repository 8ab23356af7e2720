/**
 * DPM-Solver++(2M) (Lu et al. 2022): a second-order multistep solver of the probability-flow ODE in
 * data-prediction form, good samples in 15–25 steps. With α_t = √ᾱ_t, σ_t = √(1−ᾱ_t),
 * λ = log(α/σ) and h = λ_s − λ_t:
 *
 *   first step:  x_s = (σ_s/σ_t)·x_t − α_s·(e^{−h} − 1)·x̂_0(t)
 *   later:       D = (1 + 1/(2r))·x̂_0(t) − (1/(2r))·x̂_0(t_prev),  r = h_prev/h,
 *                x_s = (σ_s/σ_t)·x_t − α_s·(e^{−h} − 1)·D
 * and the last step (to ᾱ = 1, no noise) returns the data estimate itself.
 */
import * as tf from '../core/tf.ts';
import { alphaBarAt } from './noise-schedule.ts';
import { estimates, finishStep, timesteps, type Sampler } from './sampler.ts';

export const dpmSolver2m: Sampler = (request) => {
  const steps = timesteps(request);
  const lambda = (alphaBar: number) => 0.5 * Math.log(alphaBar / (1 - alphaBar));
  let x = tf.clone(request.start);
  const previous: { x0: tf.Tensor4D | null; h: number } = { x0: null, h: 0 };
  steps.forEach((t, index) => {
    const s = steps[index + 1] ?? 0;
    const alphaT = alphaBarAt(request.schedule, t);
    const alphaS = alphaBarAt(request.schedule, s);
    const { x0, noise } = estimates(request, x, t);
    noise.dispose(); // the solver works with the data estimate only
    const next = tf.tidy(() => {
      let out: tf.Tensor4D;
      let data: tf.Tensor4D = x0;
      const h = s === 0 ? Infinity : lambda(alphaS) - lambda(alphaT);
      if (previous.x0 && Number.isFinite(h)) {
        const r = previous.h / h;
        data = tf.sub(tf.mul(x0, 1 + 1 / (2 * r)), tf.mul(previous.x0, 1 / (2 * r))) as tf.Tensor4D;
      }
      if (s === 0) {
        out = tf.clone(data);
      } else {
        const ratio = Math.sqrt((1 - alphaS) / (1 - alphaT));
        out = tf.sub(tf.mul(x, ratio), tf.mul(data, Math.sqrt(alphaS) * Math.expm1(-h))) as tf.Tensor4D;
      }
      return finishStep(request, index, t, s, out, x0);
    });
    previous.x0?.dispose();
    previous.x0 = x0;
    if (s !== 0) previous.h = lambda(alphaS) - lambda(alphaT);
    x.dispose();
    x = next;
  });
  previous.x0?.dispose();
  return x;
};
