import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GenloomError } from './errors.ts';
import { initEngine } from './engine.ts';
import * as tf from './tf.ts';

test('auto picks wasm here (no native build yet); a forced backend is used; nonsense is refused', async () => {
  assert.equal(await initEngine(), 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.equal(await initEngine({ backend: 'cpu' }), 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  await assert.rejects(initEngine({ backend: 'tpu' }), (error: unknown) => error instanceof GenloomError && /unknown backend "tpu"/.test(error.message));
  await assert.rejects(initEngine({ backend: 'native' }), (error: unknown) => error instanceof GenloomError && /native backend is not built/.test(error.message));
  process.env['GENLOOM_BACKEND'] = 'wasm';
  assert.equal(await initEngine(), 'wasm');
  delete process.env['GENLOOM_BACKEND'];
});

test('gradients and chained tensor methods are registered', async () => {
  await initEngine();
  const gradient = tf.grad((x: tf.Tensor) => x.square().sum());
  assert.deepEqual(Array.from(gradient(tf.tensor1d([1, -2, 3])).dataSync()), [2, -4, 6]);
});
