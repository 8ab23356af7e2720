import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine } from '../core/engine.ts';
import { fromSeed } from '../core/random.ts';
import * as tf from '../core/tf.ts';
import { alphaBarAt, makeSchedule } from './noise-schedule.ts';
import { ddim, ddpm } from './ddim.ts';
import { dpmSolver2m } from './dpm-solver.ts';
import { timesteps, type Denoiser, type PredictionTarget, type Sampler } from './sampler.ts';

await initEngine();

const schedule = makeSchedule('cosine', 1000);
const samplers: [string, Sampler, number][] = [['ddpm', ddpm, 200], ['ddim', ddim, 50], ['dpm-solver++(2M)', dpmSolver2m, 20]];

/** The exact denoiser when all data is one image x0: ε = (x_t − √ᾱ·x0)/√(1 − ᾱ). */
function pointMassOracle(x0: tf.Tensor4D, prediction: PredictionTarget): Denoiser {
  return (x, t) =>
    tf.tidy(() => {
      const alphaBar = alphaBarAt(schedule, t);
      const noise = tf.div(tf.sub(x, tf.mul(x0, Math.sqrt(alphaBar))), Math.sqrt(1 - alphaBar));
      return (prediction === 'v' ? tf.sub(tf.mul(noise, Math.sqrt(alphaBar)), tf.mul(x0, Math.sqrt(1 - alphaBar))) : noise) as tf.Tensor4D;
    });
}

/** The exact denoiser for pixels drawn i.i.d. from N(μ, s²): E[ε | x_t] = √(1−ᾱ)(x_t − √ᾱ μ)/(ᾱ s² + 1 − ᾱ). */
function gaussianOracle(mean: number, std: number): Denoiser {
  return (x, t) =>
    tf.tidy(() => {
      const alphaBar = alphaBarAt(schedule, t);
      return tf.mul(tf.sub(x, Math.sqrt(alphaBar) * mean), Math.sqrt(1 - alphaBar) / (alphaBar * std * std + 1 - alphaBar)) as tf.Tensor4D;
    });
}

/** The values' mean and standard deviation are within 0.03 of the given ones. */
function assertMoments(values: number[], mean: number, std: number, what: string): void {
  const sampleMean = values.reduce((sum, value) => sum + value, 0) / values.length;
  const sampleStd = Math.sqrt(values.reduce((sum, value) => sum + (value - sampleMean) ** 2, 0) / values.length);
  assert.ok(Math.abs(sampleMean - mean) < 0.03, `${what}: mean ${sampleMean}`);
  assert.ok(Math.abs(sampleStd - std) < 0.03, `${what}: std ${sampleStd}`);
}

test('timesteps spread evenly from T (or the start step) down', () => {
  const ten = makeSchedule('linear', 10);
  assert.deepEqual(timesteps({ schedule, steps: 4 }), [1000, 750, 500, 250]);
  assert.deepEqual(timesteps({ schedule: ten, steps: 10 }), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  assert.deepEqual(timesteps({ schedule, startStep: 600, steps: 3 }), [600, 400, 200]);
  assert.throws(() => timesteps({ schedule, steps: 0 }), /--steps must be 1..1000/);
  assert.throws(() => timesteps({ schedule, steps: 1001 }), /--steps must be 1..1000/);
  assert.throws(() => timesteps({ schedule, startStep: 600, steps: 601 }), /--steps must be 1..600/);
  assert.throws(() => timesteps({ schedule, startStep: 0, steps: 1 }), /start step must be 1..1000/);
});

for (const prediction of ['epsilon', 'v'] as const) {
  test(`with the exact ${prediction} denoiser of a single image, every sampler returns that image`, () => {
    const target = tf.tensor4d(fromSeed('target').uniformArray(32).map((u) => u * 1.8 - 0.9), [2, 4, 4, 1]);
    for (const [name, sampler, steps] of samplers) {
      const start = tf.tensor4d(fromSeed('start').normalArray(32), [2, 4, 4, 1]);
      const before = tf.memory().numTensors;
      const sample = sampler({ schedule, prediction, denoise: pointMassOracle(target, prediction), start, steps, random: fromSeed(1) });
      assert.equal(tf.memory().numTensors, before + 1, `${name} leaks no tensors`);
      const error = tf.tidy(() => tf.max(tf.abs(tf.sub(sample, target))).dataSync()[0]!);
      assert.ok(error < 2e-3, `${name}: max error ${error}`);
      tf.dispose([sample, start]);
    }
    target.dispose();
  });
}

test('with the exact denoiser of Gaussian data, samples have the data\'s mean and spread', () => {
  const [mean, std] = [0.5, 0.3];
  for (const [name, sampler, steps] of samplers) {
    const start = tf.tensor4d(fromSeed('gaussian-start').normalArray(4000), [1, 40, 100, 1]);
    const sample = sampler({ schedule, prediction: 'epsilon', denoise: gaussianOracle(mean, std), start, steps, random: fromSeed(2) });
    const values = Array.from(sample.dataSync());
    assertMoments(values, mean, std, name);
    tf.dispose([sample, start]);
  }
});

/** Draws N(mean, std²) data noised to step t: what SDEdit and inpainting start from. */
function noisedGaussian(mean: number, std: number, t: number, count: number, seed: string): { data: Float32Array; noised: tf.Tensor4D } {
  const alphaBar = alphaBarAt(schedule, t);
  const data = fromSeed(seed).normalArray(count).map((z) => mean + std * z);
  const noise = fromSeed(seed).fork('noise').normalArray(count);
  const noised = tf.tensor4d(data.map((x, i) => Math.sqrt(alphaBar) * x + Math.sqrt(1 - alphaBar) * noise[i]!), [1, 40, count / 40, 1]);
  return { data, noised };
}

test('starting from data noised to step 400 (img2img), every sampler still ends on the data distribution', () => {
  const [mean, std] = [-0.2, 0.4];
  for (const [name, sampler, steps] of samplers) {
    const { noised } = noisedGaussian(mean, std, 400, 4000, 'partway');
    const sample = sampler({ schedule, prediction: 'epsilon', denoise: gaussianOracle(mean, std), start: noised, startStep: 400, steps, random: fromSeed(3) });
    const values = Array.from(sample.dataSync());
    assertMoments(values, mean, std, name);
    tf.dispose([sample, noised]);
  }
});

test('a constraint (inpainting\'s known pixels) holds exactly at the end, and the free pixels follow the data', () => {
  const [mean, std] = [0.3, 0.2];
  const known = noisedGaussian(mean, std, 1, 4000, 'known').data;
  const mask = tf.tensor4d(Float32Array.from({ length: 4000 }, (_, i) => (i % 2 === 0 ? 1 : 0)), [1, 40, 100, 1]);
  const knownTensor = tf.tensor4d(known, [1, 40, 100, 1]);
  for (const [name, sampler, steps] of samplers) {
    const constrain = (x: tf.Tensor4D, s: number) =>
      tf.tidy(() => {
        const alphaBar = alphaBarAt(schedule, s);
        const noisedKnown = tf.add(tf.mul(knownTensor, Math.sqrt(alphaBar)), tf.mul(tf.tensor4d(fromSeed('c').fork(s).normalArray(4000), x.shape), Math.sqrt(1 - alphaBar)));
        return tf.add(tf.mul(noisedKnown, mask), tf.mul(x, tf.sub(1, mask))) as tf.Tensor4D;
      });
    const start = tf.tensor4d(fromSeed('inpaint-start').normalArray(4000), [1, 40, 100, 1]);
    const sample = sampler({ schedule, prediction: 'epsilon', denoise: gaussianOracle(mean, std), start, steps, random: fromSeed(4), constrain });
    const values = sample.dataSync();
    const free = Array.from(values).filter((_, i) => i % 2 === 1);
    for (let i = 0; i < 4000; i += 2) assert.equal(values[i], known[i], `${name}: known pixel ${i} is kept`);
    assertMoments(free, mean, std, `${name}, free pixels`);
    tf.dispose([sample, start]);
  }
  tf.dispose([mask, knownTensor]);
});

test('stochastic samplers are fixed by their seed; DDIM with η = 0 needs none', () => {
  const denoise = gaussianOracle(0, 1);
  const start = tf.tensor4d(fromSeed('s').normalArray(16), [1, 4, 4, 1]);
  const run = (sampler: Sampler, seed: number) => {
    const sample = sampler({ schedule, prediction: 'epsilon', denoise, start, steps: 20, random: fromSeed(seed) });
    const values = Array.from(sample.dataSync());
    sample.dispose();
    return values;
  };
  assert.deepEqual(run(ddpm, 1), run(ddpm, 1));
  assert.notDeepEqual(run(ddpm, 1), run(ddpm, 2));
  assert.deepEqual(run(ddim, 1), run(ddim, 2));
  start.dispose();
});
