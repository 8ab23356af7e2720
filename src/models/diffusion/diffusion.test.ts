import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initEngine } from '../../core/engine.ts';
import { fromSeed } from '../../core/random.ts';
import { readManifest } from '../../io/checkpoint.ts';
import { tempDir, writeShapeFolder } from '../../../test/fixtures.ts';
import type { TrainRequest } from '../family.ts';
import { diffusionFamily } from './index.ts';

await initEngine();

const root = tempDir();
const dataset = writeShapeFolder(join(root, 'shapes'), 8);

function request(outDir: string, overrides: Partial<TrainRequest> = {}): TrainRequest {
  return { dataset, outDir, seed: 4, steps: 4, batchSize: 4, resume: false, preset: 'tiny', imageSize: 12, config: { conditional: true, timesteps: 50 }, command: 'test', quiet: true, backend: 'wasm', ...overrides };
}

test('a tiny conditional diffusion model trains, resumes exactly, and samples the same images for the same seed', async () => {
  const straight = join(root, 'straight');
  const summary = await diffusionFamily.train(request(straight));
  assert.ok(Number.isFinite(summary.last['loss']), 'the loss is finite');
  const interrupted = join(root, 'interrupted');
  await diffusionFamily.train(request(interrupted, { shouldStop: (step) => step === 2 }));
  await diffusionFamily.train(request(interrupted, { resume: true, dataset: '', config: {} }));
  assert.deepEqual(readFileSync(join(interrupted, 'model.safetensors')), readFileSync(join(straight, 'model.safetensors')));

  const model = diffusionFamily.load(straight, readManifest(straight));
  assert.equal(model.conditional, true);
  const draw = (seed: number, options = {}) => {
    const images = model.sampleImages!(2, fromSeed(seed), { labels: [0, 1], ...options });
    const values = Array.from(images.dataSync());
    assert.deepEqual(images.shape, [2, 12, 12, 1]);
    images.dispose();
    return values;
  };
  for (const sampler of ['ddpm', 'ddim', 'dpm-solver']) {
    assert.deepEqual(draw(1, { sampler, steps: 5 }), draw(1, { sampler, steps: 5 }), `${sampler}: same seed, same images`);
    assert.ok(draw(1, { sampler, steps: 5 }).every((value) => value >= 0 && value <= 1), `${sampler}: pixels in [0, 1]`);
  }
  assert.notDeepEqual(draw(1, { steps: 5 }), draw(2, { steps: 5 }));
  assert.notDeepEqual(draw(1, { steps: 5, guidance: 3 }), draw(1, { steps: 5 }), 'guidance changes the samples');
  assert.throws(() => draw(1, { sampler: 'euler' }), /unknown sampler "euler": use ddpm, ddim, dpm-solver/);
  assert.throws(() => draw(1, { steps: 51 }), /--steps must be 1..50/);
  model.dispose();
});
