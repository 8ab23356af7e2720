/**
 * Durability of every family's save path: a real `genloom train` run per family (the tiny preset
 * on the conformance suite's tiny data) is SIGKILLed at seeded random moments, just after a
 * checkpoint has landed or at some point of the run, and started again with --resume each time.
 * After every kill the folder (copied as it was, so the CLI's own recovery is what the next run
 * meets) must hold a checkpoint that loads, never older than the one before; the last run must
 * reach the target step, its checkpoint load through the family's own loader, its metrics.jsonl
 * read as one record per step, and its weights and optimizer state equal an uninterrupted run's
 * (shape and video excepted: see KillPlan.twin): nothing half-written reached a resumed run.
 *
 * Checkpoints come as often as each family allows: every 2 steps for the image families (an epoch
 * is 2 batches of 32), --checkpoint-every for the transformer; music checkpoints every 50 steps at
 * least, the autoencoder every 25, shape and video every 250, so their runs are longer. Set GENLOOM_KILL_SEED to repeat a
 * failing run's kill moments (the seed is in every failure message).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initEngine } from '../src/core/engine.ts';
import { fromSeed, type Random } from '../src/core/random.ts';
import { hasCheckpoint, loadCheckpoint } from '../src/io/checkpoint.ts';
import { families, loadModel } from '../src/models/registry.ts';
import { bin } from './cli.ts';
import { adapters } from './conformance/families/adapters.ts';
import { tempDir } from './fixtures.ts';

interface KillPlan {
  steps: number;
  kills: number;
  /** The longest wait after a trigger before the kill, in ms (about a few steps of the family). */
  maxDelayMs: number;
  batchSize?: number;
  extraFlags?: string[];
  /**
   * Compare the end with an uninterrupted run, bit for bit (default true). Off for the two whose
   * first checkpoint is 250 steps in: their twin would be the longest run of the file, and the
   * conformance suite checks their resume against an uninterrupted run already.
   */
  twin?: boolean;
}

const plans: Record<string, KillPlan> = {
  // The one with more kills: it is the quickest to restart. Diffusion and PixelCNN draw a sample
  // grid at every checkpoint (denoising, or pixel by pixel), so their runs are the shortest.
  vae: { steps: 16, kills: 4, maxDelayMs: 150, batchSize: 32 },
  gan: { steps: 12, kills: 2, maxDelayMs: 150, batchSize: 32 },
  diffusion: { steps: 8, kills: 2, maxDelayMs: 150, batchSize: 32 },
  pixelcnn: { steps: 8, kills: 2, maxDelayMs: 150, batchSize: 32 },
  // The autoencoder checkpoints every 25 steps at least (each checkpoint draws reconstructions).
  autoencoder: { steps: 60, kills: 2, maxDelayMs: 300 },
  classifier: { steps: 12, kills: 2, maxDelayMs: 150, batchSize: 32 },
  clip: { steps: 12, kills: 2, maxDelayMs: 150, extraFlags: ['--checkpoint-every', '3'] },
  transformer: { steps: 15, kills: 2, maxDelayMs: 400, extraFlags: ['--checkpoint-every', '3'] },
  music: { steps: 120, kills: 2, maxDelayMs: 400 },
  shape: { steps: 260, kills: 2, maxDelayMs: 300, twin: false },
  video: { steps: 260, kills: 2, maxDelayMs: 300, twin: false },
};

const seed = Number(process.env['GENLOOM_KILL_SEED'] ?? Date.now() % 1_000_000);

/** The `genloom train` flags for a family's tiny run on the conformance suite's tiny data. */
function trainFlags(name: string, dataDir: string, plan: KillPlan): string[] {
  const data = adapters[name]!.tinyData(dataDir);
  const family = families[name]!;
  const flags = ['--preset', 'tiny', '--dataset', data.dataset, '--batch-size', String(plan.batchSize ?? data.batchSize), '--lr', String(data.learningRate), '--steps', String(plan.steps), '--seed', '1'];
  if (data.imageSize) flags.push('--image-size', String(data.imageSize));
  // The adapter's config as the family's own flags; keys with no flag (video's clip geometry) keep the preset's values.
  for (const [key, value] of Object.entries(data.config ?? {})) {
    const option = family.options.find((candidate) => candidate.configKey === key);
    if (!option) continue;
    const long = option.flags.split(/[ ,]+/).find((part) => part.startsWith('--'))!;
    flags.push(...(value === true ? [long] : [long, String(value)]));
  }
  return [...flags, ...(plan.extraFlags ?? [])];
}

interface Run {
  /** The last step the progress output showed. */
  step(): number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  kill(): void;
  done(): boolean;
}

function startTrain(family: string, args: string[]): Run {
  const child = spawn(process.execPath, [bin, 'train', family, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GENLOOM_BACKEND: '' } });
  let stdout = '';
  let stderr = '';
  let step = 0;
  let finished = false;
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const match of chunk.toString().matchAll(/train (\d+)\/\d+/g)) step = Math.max(step, Number(match[1]));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => {
      finished = true;
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return { step: () => step, exited, kill: () => child.kill('SIGKILL'), done: () => finished };
}

/** The step of the checkpoint in `dir` now, read without touching anything (0 when none is readable). */
function stepOnDisk(dir: string): number {
  try {
    return Number((JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { training: { step: number } }).training.step);
  } catch {
    return 0; // none yet, or mid-swap
  }
}

/** Waits until `condition` holds (true) or the run ends by itself (false). */
async function until(condition: () => boolean, run: Run): Promise<boolean> {
  while (!run.done()) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return false;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a kill left: the folder copied (siblings too), recovered and loaded there, not in place. */
function inspectAfterKill(root: string, copyRoot: string): { step: number; midSave: boolean } {
  const midSave = existsSync(join(root, 'run.saving')) || existsSync(join(root, 'run.old'));
  rmSync(copyRoot, { recursive: true, force: true });
  cpSync(root, copyRoot, { recursive: true });
  const copy = join(copyRoot, 'run');
  if (!hasCheckpoint(copy)) return { step: 0, midSave };
  const checkpoint = loadCheckpoint(copy, { withOptimizer: true });
  return { step: checkpoint.manifest.training.step, midSave };
}

async function killAndResume(name: string, plan: KillPlan, random: Random): Promise<{ root: string; dataDir: string; uninterrupted?: string; notes: string[] }> {
  const dataDir = tempDir(`genloom-kill-${name}-data-`);
  const flags = trainFlags(name, dataDir, plan);
  const root = tempDir(`genloom-kill-${name}-`);
  const out = join(root, 'run');
  const copyRoot = `${root}-inspected`;
  const uninterrupted = join(dataDir, 'uninterrupted');
  const context = (what: string) => `${name}, seed ${seed}: ${what}`;
  const notes: string[] = [];
  let checkpointStep = 0;
  // The uninterrupted twin runs beside the first killed run (it is mostly startup, like them).
  const twin = plan.twin === false ? undefined : startTrain(name, [...flags, '--out', uninterrupted]);
  for (let kill = 0; kill < plan.kills; kill++) {
    const run = startTrain(name, [...flags, '--out', out, ...(kill > 0 ? ['--resume'] : [])]);
    const startStep = checkpointStep;
    // Alternately just after a new checkpoint has landed (the next save may be under way when the
    // kill comes) and anywhere once steps are running (before any checkpoint, possibly).
    const afterCheckpoint = (kill + name.length) % 2 === 0;
    const fired = await until(afterCheckpoint ? () => stepOnDisk(out) > checkpointStep : () => run.step() > startStep, run);
    const delay = Math.floor(random.uniform() * plan.maxDelayMs);
    if (fired) await sleep(delay);
    run.kill();
    const ended = await run.exited;
    if (ended.signal !== 'SIGKILL') {
      // It finished (or failed) before the kill came: the rest is the final run's checks.
      assert.equal(ended.code, 0, context(`run ${kill + 1} failed:\n${ended.stderr}`));
      notes.push(`run ${kill + 1} finished before its kill`);
      break;
    }
    const after = inspectAfterKill(root, copyRoot);
    assert.ok(after.step >= checkpointStep, context(`kill ${kill + 1} left the checkpoint of step ${after.step}, older than step ${checkpointStep} before it`));
    assert.ok(after.step <= plan.steps, context(`checkpoint step ${after.step} is past the run's ${plan.steps}`));
    notes.push(`kill ${kill + 1} ${afterCheckpoint ? 'after a checkpoint' : 'mid-run'} +${delay} ms at progress step ${run.step()}: checkpoint ${after.step}${after.midSave ? ' (mid-save)' : ''}`);
    checkpointStep = after.step;
  }
  const final = await startTrain(name, [...flags, '--out', out, '--resume']).exited;
  assert.equal(final.code, 0, context(`the last --resume failed:\n${final.stderr}`));
  assert.match(final.stdout, new RegExp(`finished at step ${plan.steps};`), context('the last run did not reach the target step'));
  rmSync(copyRoot, { recursive: true, force: true });
  if (!twin) return { root, dataDir, notes };
  const twinEnded = await twin.exited;
  assert.equal(twinEnded.code, 0, context(`the uninterrupted run failed:\n${twinEnded.stderr}`));
  return { root, dataDir, uninterrupted, notes };
}

await initEngine({});

// Two families at a time: a run is mostly the CLI starting up (one core), so two overlap well on two.
test('every family: SIGKILLed training resumes with --resume to its target, and ends as an uninterrupted run does', { concurrency: 2 }, async (suite) => {
  await Promise.all(Object.keys(families).map((name) => suite.test(`family ${name}`, async (t) => {
    const plan = plans[name];
    if (!plan) assert.fail(`the family "${name}" has no kill plan in test/train-kill.test.ts: add one (its steps, kills, and how long a step takes)`);
    const random = fromSeed(seed).fork(name);
    const { root, dataDir, uninterrupted, notes } = await killAndResume(name, plan, random);
    const out = join(root, 'run');
    const context = (what: string) => `${name}, seed ${seed}: ${what}`;
    for (const note of notes) t.diagnostic(note);

    assert.deepEqual(readdirSync(root), ['run'], context('no .saving or .old folder is left beside the run'));
    const checkpoint = loadCheckpoint(out, { withOptimizer: true });
    assert.equal(checkpoint.manifest.training.step, plan.steps);
    const model = loadModel(out);
    assert.equal(model.family, name);
    model.dispose();

    // One training record per logged step, in order, whatever the kills cut short; the last at the target.
    const records = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line, i) => {
      try {
        return JSON.parse(line) as { step: number; learningRate?: number };
      } catch {
        assert.fail(context(`metrics.jsonl line ${i + 1} is not JSON: ${line.slice(0, 80)}`));
      }
    });
    const steps = records.filter((record) => record.learningRate !== undefined).map((record) => record.step);
    for (let i = 1; i < steps.length; i++) assert.ok(steps[i]! > steps[i - 1]!, context(`metrics.jsonl steps go ${steps[i - 1]} then ${steps[i]}`));
    assert.equal(steps.at(-1), plan.steps);
    // Not the same logged steps as the uninterrupted run: a resumed run starts its averaging window
    // at the checkpoint, so where --checkpoint-every is no multiple of the log interval the windows
    // shift (music's 50-step checkpoints against 6-step logging).

    if (uninterrupted) {
      for (const file of ['model.safetensors', 'optimizer.safetensors']) {
        assert.ok(readFileSync(join(out, file)).equals(readFileSync(join(uninterrupted, file))), context(`${file} differs from the uninterrupted run's`));
      }
    }
    rmSync(root, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  })));
});
