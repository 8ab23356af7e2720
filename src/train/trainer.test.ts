import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initEngine } from '../core/engine.ts';
import * as tf from '../core/tf.ts';
import { tempDir, writeShapeFolder } from '../../test/fixtures.ts';
import { vaeFamily } from '../models/vae/index.ts';
import type { TrainRequest } from '../models/family.ts';
import { learningRateAt } from './schedule.ts';

await initEngine();

const root = tempDir();
const dataset = writeShapeFolder(join(root, 'shapes'), 24);

function request(outDir: string, overrides: Partial<TrainRequest> = {}): TrainRequest {
  return {
    dataset,
    outDir,
    seed: 3,
    steps: 12,
    batchSize: 8,
    learningRate: 2e-3,
    resume: false,
    preset: 'tiny',
    imageSize: 16,
    config: { latentDim: 3 },
    command: 'test',
    quiet: true,
    backend: 'wasm',
    ...overrides,
  };
}

test('resuming from a checkpoint gives bit-identical weights to an uninterrupted run', async () => {
  const before = tf.memory().numTensors;
  const straight = join(root, 'straight');
  await vaeFamily.train(request(straight));
  const interrupted = join(root, 'interrupted');
  // Stop after step 7 (mid-epoch: 48 images / 8 = 6 steps per epoch), then resume.
  const first = await vaeFamily.train(request(interrupted, { shouldStop: (step) => step === 7 }));
  assert.equal(first.stoppedEarly, true);
  assert.equal(first.steps, 7);
  const resumed = await vaeFamily.train(request(interrupted, { resume: true, dataset: '', seed: undefined as unknown as number }));
  assert.equal(resumed.steps, 12);
  assert.deepEqual(readFileSync(join(interrupted, 'model.safetensors')), readFileSync(join(straight, 'model.safetensors')));
  assert.deepEqual(readFileSync(join(interrupted, 'optimizer.safetensors')), readFileSync(join(straight, 'optimizer.safetensors')));
  assert.equal(tf.memory().numTensors, before, 'training leaks no tensors');
});

test('a run writes config.json, metrics.jsonl, loss.png and samples.png', async () => {
  const dir = join(root, 'files');
  await vaeFamily.train(request(dir, { steps: 6 }));
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.equal(config.family, 'vae');
  assert.equal(config.training.step, 6);
  assert.equal(config.training.seed, 3);
  assert.equal(config.training.command, 'test');
  assert.equal(config.config.latentDim, 3, 'family flags reach the config');
  assert.deepEqual(config.training.labelNames, ['ring', 'square']);
  const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(lines.at(-1).step, 6);
  assert.ok(lines.every((line) => Number.isFinite(line.loss) && line.loss > 0), 'finite losses');
  for (const file of ['loss.png', 'samples.png']) {
    assert.ok(existsSync(join(dir, file)), `${file} exists`);
    assert.deepEqual([...readFileSync(join(dir, file)).subarray(1, 4)], [0x50, 0x4e, 0x47], `${file} is a PNG`);
  }
});

test('learning-rate schedules are pure functions of the step', () => {
  const options = { name: 'cosine' as const, peak: 1, totalSteps: 100, warmupSteps: 10, minFactor: 0.1 };
  assert.equal(learningRateAt(0, options), 0.1);
  assert.equal(learningRateAt(9, options), 1);
  assert.ok(Math.abs(learningRateAt(10, options) - 1) < 1e-12);
  assert.ok(Math.abs(learningRateAt(100, options) - 0.1) < 1e-12);
  assert.ok(learningRateAt(55, options) < learningRateAt(30, options));
  assert.equal(learningRateAt(50, { ...options, name: 'constant' }), 1);
});
