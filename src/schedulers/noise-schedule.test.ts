import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromSeed } from '../core/random.ts';
import { alphaBarAt, fromVelocity, makeSchedule, noisy, velocity, x0FromNoise } from './noise-schedule.ts';

test('linear schedule: Ho et al.\'s β range at T = 1000, ᾱ falling from ≈1 to ≈0', () => {
  const schedule = makeSchedule('linear', 1000);
  assert.ok(Math.abs(schedule.betas[0]! - 1e-4) < 1e-12 && Math.abs(schedule.betas[999]! - 0.02) < 1e-12, 'β from 1e-4 to 0.02');
  assert.ok(alphaBarAt(schedule, 1) > 0.9998 && alphaBarAt(schedule, 1000) < 1e-4, `ᾱ_T = ${alphaBarAt(schedule, 1000)}`);
  for (let t = 1; t < 1000; t++) assert.ok(schedule.alphaBars[t]! < schedule.alphaBars[t - 1]!, 'ᾱ decreases');
  // Fewer steps, the same total noise to within a factor: ᾱ_T stays tiny.
  assert.ok(alphaBarAt(makeSchedule('linear', 50), 50) < 1e-3, 'a short schedule still ends in noise');
});

test('cosine schedule matches its closed form ᾱ_t = f(t)/f(0)', () => {
  const steps = 200;
  const schedule = makeSchedule('cosine', steps);
  const f = (t: number) => Math.cos(((t / steps + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  for (const t of [1, 50, 100, 150, 199]) {
    assert.ok(Math.abs(alphaBarAt(schedule, t) - f(t) / f(0)) < 1e-9, `ᾱ_${t}`);
  }
  assert.ok(alphaBarAt(schedule, steps) < 1e-4, 'ends in noise (β clipped at 0.999)');
  assert.equal(alphaBarAt(schedule, 0), 1);
  assert.throws(() => alphaBarAt(schedule, steps + 1), /step 201 is outside 0..200/);
  assert.throws(() => makeSchedule('quadratic' as 'linear', 10), /unknown noise schedule "quadratic"/);
});

test('ε- and v-parameterisations recover x_0 and ε exactly', () => {
  const random = fromSeed('targets');
  const x0 = random.normalArray(64);
  const noise = random.normalArray(64);
  for (const alphaBar of [0.999, 0.5, 0.01]) {
    const xt = noisy(x0, noise, alphaBar);
    const recovered = fromVelocity(xt, velocity(x0, noise, alphaBar), alphaBar);
    const fromNoise = x0FromNoise(xt, noise, alphaBar);
    for (let i = 0; i < 64; i++) {
      assert.ok(Math.abs(recovered.x0[i]! - x0[i]!) < 1e-4 && Math.abs(recovered.noise[i]! - noise[i]!) < 1e-4, `v round trip at ᾱ ${alphaBar}`);
      assert.ok(Math.abs(fromNoise[i]! - x0[i]!) < 1e-3, `ε round trip at ᾱ ${alphaBar}`);
    }
  }
});

test('the forward process has the stated mean and variance', () => {
  const random = fromSeed('forward');
  const count = 50_000;
  const x0 = new Float32Array(count).fill(2);
  const xt = noisy(x0, random.normalArray(count), 0.25);
  const mean = xt.reduce((sum, value) => sum + value, 0) / count;
  const variance = xt.reduce((sum, value) => sum + (value - mean) ** 2, 0) / count;
  assert.ok(Math.abs(mean - 1) < 0.02, `mean √ᾱ·x0 = 1, got ${mean}`);
  assert.ok(Math.abs(variance - 0.75) < 0.02, `variance 1 − ᾱ = 0.75, got ${variance}`);
});
