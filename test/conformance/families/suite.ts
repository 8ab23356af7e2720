/**
 * The family conformance suite: every family in the registry, trained through its own
 * `train(request)` from its `tiny` preset on tiny data (adapters.ts), must
 * - generate outputs of the expected shape,
 * - log a finite first loss, and overfit a tiny data set (the loss falls clearly),
 * - give the same bytes for the same seed (and other bytes for another seed),
 * - load bit-exact: the loaded weights are the saved ones, a checkpoint saved again from them is
 *   the same file, and a model loaded from it draws the same sample,
 * - resume exactly: N steps in one go equal N/2, stop, resume N/2 (weights and optimizer state),
 * - leak no tensors across train, and across load → generate → dispose.
 * The suite is generic: what differs between families lives in adapters.ts, and a registered
 * family without an adapter fails here. One file per backend calls `familySuite(backend)`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initEngine, type BackendName } from '../../../src/core/engine.ts';
import { registerNativeBackend } from '../../../src/core/native/backend.ts';
import { fromSeed } from '../../../src/core/random.ts';
import * as tf from '../../../src/core/tf.ts';
import { readManifest } from '../../../src/io/checkpoint.ts';
import { readSafetensors } from '../../../src/io/safetensors.ts';
import type { FamilyDefinition, TrainRequest } from '../../../src/models/family.ts';
import { families } from '../../../src/models/registry.ts';
import { tempDir } from '../../fixtures.ts';
import { adapters, type FamilyAdapter } from './adapters.ts';

/** Steps of the resume check: N in one go against N/2, stop, resume. */
const resumeSteps = 4;

/** Why `backend` cannot run here (a skip reason), or false; under CI the native addon must be built. */
export function backendSkipReason(backend: BackendName): string | false {
  if (backend !== 'native' || registerNativeBackend()) return false;
  if (process.env['CI']) return false; // not skipped: initEngine fails, and says the addon is not built
  return 'the native addon is not built on this machine (npm install builds it where a C++ compiler is present)';
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

/** Model variables created since `known` (tfjs's registry of variables, by name). */
function newVariables(known: Set<string>): tf.Variable[] {
  return Object.entries(tf.engine().registeredVariables).filter(([name]) => !known.has(name)).map(([, variable]) => variable);
}

/** Every variable the loaded model holds must equal, bit for bit, a tensor of the saved file. */
function assertWeightsFromFile(variables: tf.Variable[], file: string): void {
  const stored = [...readSafetensors(file).tensors.values()].map((tensor) => ({ shape: tensor.shape.join(','), bytes: Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength) }));
  assert.ok(variables.length > 0, 'the loaded model holds its weights as variables');
  for (const variable of variables) {
    const data = variable.dataSync() as Float32Array | Int32Array;
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const shape = variable.shape.join(',');
    assert.ok(stored.some((tensor) => tensor.shape === shape && tensor.bytes.equals(bytes)), `the loaded variable ${variable.name} [${shape}] is not bit-identical to any tensor of ${file}`);
  }
}

async function familyChecks(name: string, family: FamilyDefinition, adapter: FamilyAdapter, backend: BackendName, t: test.TestContext): Promise<void> {
  const root = tempDir(`genloom-conformance-${name}-${backend}-`);
  const data = adapter.tinyData(root);
  const request = (outDir: string, overrides: Partial<TrainRequest> = {}): TrainRequest => ({
    ...data,
    outDir: join(root, outDir),
    seed: 7,
    resume: false,
    preset: 'tiny',
    command: 'conformance',
    quiet: true,
    backend,
    ...overrides,
  });
  assert.ok(family.presets.includes('tiny'), `${name} has no "tiny" preset: add one to its config.ts (the suite builds every family from it)`);

  await t.test('a finite first loss, and a tiny data set overfits (the loss falls clearly)', async () => {
    const { steps, loss, ratio, learningRate } = adapter.overfit;
    const losses: number[] = [];
    const summary = await family.train(request('overfit', { steps, ...(learningRate ? { learningRate } : {}), onProgress: (_, __, values) => losses.push(values[loss]!) }));
    assert.equal(summary.steps, steps);
    assert.equal(losses.length, steps, `"${loss}" is reported after every step`);
    assert.ok(Number.isFinite(losses[0]), `the first ${loss} is finite (got ${losses[0]})`);
    assert.ok(losses.every(Number.isFinite), `every ${loss} is finite: ${losses.join(', ')}`);
    const [first, last] = [mean(losses.slice(0, 3)), mean(losses.slice(-3))];
    assert.ok(last <= ratio * first, `${loss} falls to at most ${ratio} of where it starts in ${steps} steps: ${first.toPrecision(4)} → ${last.toPrecision(4)} (${losses.map((value) => value.toPrecision(3)).join(' ')})`);
  });

  const straight = request('straight', { steps: resumeSteps });
  await t.test(`resume = uninterrupted: ${resumeSteps} steps in one go equal ${resumeSteps / 2}, stop, resume ${resumeSteps / 2}, and training leaks no tensors`, async () => {
    const before = tf.memory().numTensors;
    await family.train(straight);
    assert.equal(tf.memory().numTensors, before, 'train() leaves no tensors behind');
    const stopped = await family.train(request('interrupted', { steps: resumeSteps, shouldStop: (step) => step === resumeSteps / 2 }));
    assert.equal(stopped.steps, resumeSteps / 2);
    assert.equal(stopped.stoppedEarly, true);
    const resumed = await family.train(request('interrupted', { steps: resumeSteps, resume: true, dataset: '', config: {} }));
    assert.equal(resumed.steps, resumeSteps);
    for (const file of ['model.safetensors', 'optimizer.safetensors']) {
      assert.ok(readFileSync(join(root, 'interrupted', file)).equals(readFileSync(join(straight.outDir, file))), `${file}: the resumed run differs from the uninterrupted one`);
    }
  });

  await t.test('outputs have their shapes; same seed, same bytes (another seed, others); loads bit-exact; no tensor leaks', async () => {
    const before = tf.memory().numTensors;
    const known = new Set(Object.keys(tf.engine().registeredVariables));
    const model = family.load(straight.outDir, readManifest(straight.outDir));
    let first: ReturnType<FamilyAdapter['generate']>;
    try {
      assert.equal(model.family, name);
      assertWeightsFromFile(newVariables(known), join(straight.outDir, 'model.safetensors'));
      first = adapter.generate(model, fromSeed(1));
      assert.deepEqual(first.shape, first.expectedShape, 'the generated output has the expected shape');
      assert.ok(first.bytes.length > 0);
      const again = adapter.generate(model, fromSeed(1));
      assert.ok(Buffer.from(again.bytes).equals(Buffer.from(first.bytes)), 'the same seed gives the same bytes');
      const other = adapter.generate(model, fromSeed(2));
      assert.ok(!Buffer.from(other.bytes).equals(Buffer.from(first.bytes)), 'another seed gives other bytes (the seed is used)');
    } finally {
      model.dispose();
    }
    assert.equal(tf.memory().numTensors, before, 'load → generate → dispose leaves no tensors behind');

    // Saved again from the loaded weights (a --resume of the finished run), the checkpoint is the same file, and draws the same sample.
    const saved = readFileSync(join(straight.outDir, 'model.safetensors'));
    await family.train({ ...straight, resume: true, dataset: '', config: {} });
    assert.ok(readFileSync(join(straight.outDir, 'model.safetensors')).equals(saved), 'save → load → save gives the same model.safetensors');
    const reloaded = family.load(straight.outDir, readManifest(straight.outDir));
    try {
      assert.ok(Buffer.from(adapter.generate(reloaded, fromSeed(1)).bytes).equals(Buffer.from(first.bytes)), 'the reloaded model draws the same sample for the seed');
    } finally {
      reloaded.dispose();
    }
    assert.equal(tf.memory().numTensors, before);
  });
}

/** Registers one test per registered family on `backend`. */
export async function familySuite(backend: BackendName): Promise<void> {
  const skip = backendSkipReason(backend);
  if (!skip) await initEngine({ backend });
  for (const [name, family] of Object.entries(families)) {
    test(`family ${name} on ${backend}: shapes, finite loss, overfit, seeding, save → load, resume, leaks`, { skip }, async (t) => {
      assert.equal(tf.getBackend(), backend);
      const adapter = adapters[name];
      if (!adapter) assert.fail(`the family "${name}" has no adapter in test/conformance/families/adapters.ts: add one (its tiny data, how to call its generator, which output to compare)`);
      await familyChecks(name, family, adapter, backend, t);
    });
  }
}
