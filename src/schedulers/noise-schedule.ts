/**
 * Noise schedules for diffusion models, apart from any network (groundwork for the diffusion
 * family). A schedule fixes, for t = 1…T, how much noise the forward process has added:
 *
 *   q(x_t | x_0) = N(√ᾱ_t · x_0, (1 − ᾱ_t) · I),   ᾱ_t = Π_{s≤t} (1 − β_s)
 *
 * linear: β from 1e-4 to 0.02 over T = 1000 (Ho et al. 2020), rescaled for other T so the total
 * noise is comparable. cosine: ᾱ_t = f(t)/f(0), f(t) = cos²(((t/T + s)/(1 + s)) · π/2), s = 0.008,
 * with β clipped at 0.999 (Nichol & Dhariwal 2021).
 *
 * Prediction targets, all interchangeable given x_t and ᾱ_t (Salimans & Ho 2022 for v):
 *   ε-prediction: ε;   v-prediction: v = √ᾱ·ε − √(1−ᾱ)·x_0
 *   x_0 = √ᾱ·x_t − √(1−ᾱ)·v,   ε = √(1−ᾱ)·x_t + √ᾱ·v
 */
import { GenloomError } from '../core/errors.ts';

export type ScheduleName = 'linear' | 'cosine';

export interface NoiseSchedule {
  name: ScheduleName;
  steps: number;
  /** β_t for t = 1…T at index t − 1. */
  betas: Float64Array;
  /** ᾱ_t for t = 1…T at index t − 1. */
  alphaBars: Float64Array;
}

export function makeSchedule(name: ScheduleName, steps: number): NoiseSchedule {
  if (!Number.isInteger(steps) || steps < 1 || steps > 100_000) throw new GenloomError('BAD_ARGUMENT', `a noise schedule needs 1..100000 steps (got ${steps})`);
  const betas = new Float64Array(steps);
  if (name === 'linear') {
    const scale = 1000 / steps;
    const start = scale * 1e-4;
    const end = Math.min(0.999, scale * 0.02);
    for (let i = 0; i < steps; i++) betas[i] = steps === 1 ? end : start + ((end - start) * i) / (steps - 1);
  } else if (name === 'cosine') {
    const s = 0.008;
    const f = (t: number) => Math.cos((((t / steps) + s) / (1 + s)) * (Math.PI / 2)) ** 2;
    for (let i = 0; i < steps; i++) betas[i] = Math.min(0.999, 1 - f(i + 1) / f(i));
  } else {
    throw new GenloomError('BAD_ARGUMENT', `unknown noise schedule "${name as string}": use linear or cosine`);
  }
  const alphaBars = new Float64Array(steps);
  let product = 1;
  for (let i = 0; i < steps; i++) {
    product *= 1 - betas[i]!;
    alphaBars[i] = product;
  }
  return { name, steps, betas, alphaBars };
}

/** ᾱ at step t (1…T); ᾱ_0 = 1 (no noise). */
export function alphaBarAt(schedule: NoiseSchedule, t: number): number {
  if (t === 0) return 1;
  if (!Number.isInteger(t) || t < 0 || t > schedule.steps) throw new GenloomError('BAD_ARGUMENT', `step ${t} is outside 0..${schedule.steps}`);
  return schedule.alphaBars[t - 1]!;
}

/** x_t = √ᾱ·x_0 + √(1−ᾱ)·ε, elementwise. */
export function noisy(x0: ArrayLike<number>, noise: ArrayLike<number>, alphaBar: number): Float32Array {
  const a = Math.sqrt(alphaBar);
  const b = Math.sqrt(1 - alphaBar);
  return Float32Array.from(x0, (value, i) => a * value + b * noise[i]!);
}

/** The v target for x_0 and ε at ᾱ. */
export function velocity(x0: ArrayLike<number>, noise: ArrayLike<number>, alphaBar: number): Float32Array {
  const a = Math.sqrt(alphaBar);
  const b = Math.sqrt(1 - alphaBar);
  return Float32Array.from(x0, (value, i) => a * noise[i]! - b * value);
}

/** (x_0, ε) recovered from x_t and a v prediction. */
export function fromVelocity(xt: ArrayLike<number>, v: ArrayLike<number>, alphaBar: number): { x0: Float32Array; noise: Float32Array } {
  const a = Math.sqrt(alphaBar);
  const b = Math.sqrt(1 - alphaBar);
  return {
    x0: Float32Array.from(xt, (value, i) => a * value - b * v[i]!),
    noise: Float32Array.from(xt, (value, i) => b * value + a * v[i]!),
  };
}

/** x_0 recovered from x_t and an ε prediction. */
export function x0FromNoise(xt: ArrayLike<number>, noise: ArrayLike<number>, alphaBar: number): Float32Array {
  const a = Math.sqrt(alphaBar);
  const b = Math.sqrt(1 - alphaBar);
  return Float32Array.from(xt, (value, i) => (value - b * noise[i]!) / a);
}
