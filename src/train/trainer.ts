/**
 * The one Trainer every family uses. It knows nothing about the model it trains beyond its named
 * parameters and a loss function (minGPT's rule): it owns the step loop, data order, randomness,
 * optimizer, learning-rate schedule, progress, metrics.jsonl, the loss-curve PNG, checkpoints,
 * --resume and Ctrl-C.
 *
 * Determinism: step s draws its batch from the permutation of epoch ⌊s / stepsPerEpoch⌋ and its
 * randomness from `fromSeed(seed).fork('step', s)`; both depend only on (seed, s). Together with the
 * bit-exact optimizer state in the checkpoint, a resumed run reproduces an uninterrupted one.
 */
import * as tf from '../core/tf.ts';
import { appendFileSync, copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { assignStored, gradientsOf, paramsToStored, type Params } from '../core/params.ts';
import { fromSeed } from '../core/random.ts';
import type { Random } from '../core/random.ts';
import { makeDirectories } from '../io/atomic.ts';
import { hasCheckpoint, loadCheckpoint, readManifest, saveCheckpoint, type CheckpointManifest } from '../io/checkpoint.ts';
import { AdamW, type AdamOptions } from './adam.ts';
import { writeLossCurve } from './loss-curve.ts';
import { createProgress } from './progress.ts';
import type { StoredTensor } from '../io/safetensors.ts';
import { learningRateAt, type ScheduleOptions } from './schedule.ts';
import { loadStartingWeights, withoutFrozen } from './starting-weights.ts';

export type LossFunction<Batch> = (batch: Batch, random: Random) => { total: tf.Scalar; parts: Record<string, tf.Scalar> };

/**
 * One of several optimisers a step runs in turn: a GAN's discriminator then generator. Each phase
 * has its own AdamW over its own parameters (stored in the checkpoint under "<name>.").
 */
export interface TrainingPhase<Batch> {
  /** Its total is logged as "<name>Loss". */
  name: string;
  params: Params;
  loss: LossFunction<Batch>;
  /** Multiplies the scheduled learning rate (two time-scale update rule, TTUR). */
  learningRateScale?: number;
  adam?: Partial<AdamOptions>;
}

/** What a family gives the trainer. */
export interface TrainableModel<Batch> {
  /** Everything the checkpoint stores, including state no optimiser touches (EMA weights, …). */
  params: Params;
  /** The loss on one batch; `total` is minimised, `parts` are logged. Called under tf.tidy. */
  loss?: LossFunction<Batch>;
  /** Instead of `loss`: phases optimised one after the other in each step. */
  phases?: TrainingPhase<Batch>[];
  /** Runs before each step's gradients (e.g. spectral-norm power iteration), outside the tape. */
  beforeStep?(step: number): void;
  /** Runs after each step's updates (e.g. an exponential moving average of weights). */
  afterStep?(step: number): void;
}

export interface TrainerOptions<Batch> {
  /** The model directory: checkpoints, metrics.jsonl and loss.png go here. */
  outDir: string;
  seed: number;
  totalSteps: number;
  batchSize: number;
  /** Number of examples; batches are drawn from 0..datasetSize-1 without replacement per epoch. */
  datasetSize: number;
  /** Builds the batch for these example indices (tensors the trainer disposes); `random` is for augmentation. */
  makeBatch(indices: Int32Array, random: Random): Batch;
  schedule: Omit<ScheduleOptions, 'totalSteps'>;
  adam?: Partial<AdamOptions>;
  /** Clip gradients to this global L2 norm (0 = off). */
  clipNorm?: number;
  /**
   * Gradient accumulation: each optimizer step averages the gradients of this many batches of
   * `batchSize` (default 1), for an effective batch larger than fits in memory at once.
   */
  accumulationSteps?: number;
  /**
   * Periodic validation: `run()` returns a loss (lower is better) that is logged as valLoss at
   * every checkpoint; the weights with the lowest so far are also saved to `<outDir>/best`.
   */
  validation?: {
    run(): number;
    /** Files of outDir the best copy needs to load on its own (e.g. tokenizer.json). */
    companionFiles?: string[];
  };
  checkpointEvery: number;
  /** Average the logged losses over this many steps per metrics.jsonl line. */
  logEvery: number;
  /** config.json for a checkpoint at `step` (the trainer fills in training.step). */
  manifest(step: number, epoch: number): CheckpointManifest;
  resume?: boolean;
  /** Runs after every checkpoint, e.g. to write a sample grid. */
  afterCheckpoint?(step: number): void | Promise<void>;
  /** A fine-tune: a fresh run starts from the weights of this model directory (of `family`). */
  initialWeights?: { dir: string; family: string };
  /** Parameter-name prefixes held fixed (a fine-tune's --freeze); a phase left with none is skipped. */
  freeze?: string[];
  /** Stops (with a checkpoint) before this step when true; Ctrl-C does the same. */
  shouldStop?(step: number): boolean;
  handleSignals?: boolean;
  quiet?: boolean;
  /** Items per step shown as throughput, e.g. images (defaults to batchSize). */
  unitsPerStep?: number;
  /**
   * Called after every step with that step's losses (not averaged) and the throughput of the last
   * logged window (undefined before the first); for the server's live progress. Keep it cheap.
   */
  onProgress?(step: number, totalSteps: number, values: Record<string, number>, unitsPerSecond?: number): void;
  /** Called after every checkpoint is on disk, afterCheckpoint's files included. */
  onCheckpoint?(step: number): void;
}

export interface TrainResult {
  step: number;
  stoppedEarly: boolean;
  /** The last logged averages. */
  last: Record<string, number>;
}

type Batch = tf.Tensor | tf.Tensor[] | tf.NamedTensorMap | { [name: string]: tf.Tensor };

function disposeBatch(batch: unknown): void {
  tf.dispose(batch as tf.TensorContainer);
}

/** Keeps a per-step JSON-lines log (metrics.jsonl, …) consistent with the checkpoint a run resumes from. */
export function truncateMetrics(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .filter((line) => {
      try {
        return (JSON.parse(line) as { step: number }).step <= step;
      } catch {
        return false;
      }
    });
  writeFileSync(path, kept.length > 0 ? `${kept.join('\n')}\n` : '');
}

/**
 * How a run walks its data: the batch (never more than the dataset), the accumulated batches per
 * step (never more than an epoch holds), the examples per step and the steps per epoch. Families
 * call it too, to size their runs exactly as the trainer will.
 */
export function stepGeometry(datasetSize: number, requestedBatchSize: number, accumulationSteps = 1): { batchSize: number; accumulation: number; examplesPerStep: number; stepsPerEpoch: number } {
  const batchSize = Math.min(requestedBatchSize, datasetSize);
  const accumulation = Math.max(1, Math.min(accumulationSteps, Math.floor(datasetSize / batchSize)));
  const examplesPerStep = batchSize * accumulation;
  return { batchSize, accumulation, examplesPerStep, stepsPerEpoch: Math.max(1, Math.floor(datasetSize / examplesPerStep)) };
}

/**
 * Trains `model` with AdamW.
 * @example
 * await train(vae, { outDir: 'runs/vae', seed: 1, totalSteps: 1000, batchSize: 64, datasetSize: n,
 *   makeBatch: (indices) => gatherImages(data, indices), schedule: { name: 'constant', peak: 1e-3,
 *   warmupSteps: 0, minFactor: 0.1 }, checkpointEvery: 500, logEvery: 50, manifest });
 */
export async function train<B extends Batch>(model: TrainableModel<B>, options: TrainerOptions<B>): Promise<TrainResult> {
  const { outDir, seed, totalSteps, datasetSize } = options;
  if (datasetSize < 1) throw new GenloomError('EMPTY_DATASET', 'the dataset has no examples to train on');
  if (!(totalSteps >= 1)) throw new GenloomError('BAD_ARGUMENT', `--steps/--epochs must give at least one step (got ${totalSteps})`);
  const { batchSize, accumulation, examplesPerStep, stepsPerEpoch } = stepGeometry(datasetSize, options.batchSize, options.accumulationSteps);
  const root = fromSeed(seed);
  const schedule: ScheduleOptions = { ...options.schedule, totalSteps };
  const phases = phasesOf(model, options.adam, options.freeze);
  // Named by the phases the model has, so freezing one of a GAN's two keeps the other's log name and randomness.
  const single = (model.phases?.length ?? 1) === 1;
  const optimizers = phases.map((phase) => new AdamW(phase.params, { ...options.adam, ...phase.adam }));
  const metricsPath = join(outDir, 'metrics.jsonl');
  makeDirectories(outDir);

  let step = 0;
  // A --resume that finds no checkpoint (the run was killed before its first save completed)
  // starts afresh, and so forgets what the killed run logged and kept as its best: otherwise
  // metrics.jsonl would hold steps 1, 2, … twice.
  const resuming = Boolean(options.resume) && hasCheckpoint(outDir);
  if (resuming) {
    const checkpoint = loadCheckpoint(outDir, { withOptimizer: true });
    assignStored(model.params, checkpoint.weights, join(outDir, 'model.safetensors'));
    loadOptimizerStates(phases, optimizers, checkpoint.optimizer!, join(outDir, 'optimizer.safetensors'));
    step = checkpoint.manifest.training.step;
    truncateMetrics(metricsPath, step);
  } else {
    if (options.initialWeights) loadStartingWeights(model.params, options.initialWeights.dir, options.initialWeights.family);
    writeFileSync(metricsPath, '');
  }

  const bestDir = join(outDir, 'best');
  // A fresh run never inherits the best of an earlier run in the same folder.
  if (!resuming) rmSync(bestDir, { recursive: true, force: true });
  let bestLoss = options.validation && hasCheckpoint(bestDir) ? Number(readManifest(bestDir).training['valLoss']) : Infinity;
  const save = async (atStep: number) => {
    const manifest = options.manifest(atStep, Math.floor(atStep / stepsPerEpoch));
    manifest.training.step = atStep;
    const weights = paramsToStored(model.params);
    if (options.validation) {
      const valLoss = options.validation.run();
      appendFileSync(metricsPath, `${JSON.stringify({ step: atStep, valLoss })}\n`);
      manifest.training['valLoss'] = valLoss;
      manifest.training['bestValLoss'] = Math.min(bestLoss, valLoss);
      if (valLoss < bestLoss) {
        bestLoss = valLoss;
        makeDirectories(bestDir);
        for (const file of options.validation.companionFiles ?? []) copyFileSync(join(outDir, file), join(bestDir, file));
        saveCheckpoint(bestDir, { manifest, weights });
      }
    }
    saveCheckpoint(outDir, { manifest, weights, optimizer: optimizerStates(phases, optimizers) });
    await writeLossCurve(metricsPath, join(outDir, 'loss.png'));
    await options.afterCheckpoint?.(atStep);
    options.onCheckpoint?.(atStep);
  };

  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130); // a second Ctrl-C: the last checkpoint is intact on disk
    interrupted = true;
    process.stderr.write('\nstopping after this step and saving a checkpoint (Ctrl-C again to quit now)\n');
  };
  if (options.handleSignals) process.on('SIGINT', onSignal);

  const progress = createProgress({ total: totalSteps, label: 'train', quiet: options.quiet });
  let permutation: Int32Array | null = null;
  let permutationEpoch = -1;
  const sums: Record<string, number> = {};
  let summed = 0;
  let windowStart = performance.now();
  let last: Record<string, number> = {};
  let stoppedEarly = false;
  const unitsPerStep = options.unitsPerStep ?? batchSize;
  let unitsPerSecond: number | undefined;

  try {
    while (step < totalSteps) {
      // Steps are synchronous: yield to the event loop so a Ctrl-C (SIGINT) handler can run.
      await new Promise((resolve) => setImmediate(resolve));
      if (interrupted || options.shouldStop?.(step)) {
        stoppedEarly = true;
        break;
      }
      const epoch = Math.floor(step / stepsPerEpoch);
      if (epoch !== permutationEpoch) {
        permutation = root.fork('epoch', epoch).permutation(datasetSize);
        permutationEpoch = epoch;
      }
      const offset = (step % stepsPerEpoch) * examplesPerStep;
      const stepRandom = root.fork('step', step);
      // With accumulation, micro-batch k draws from its own fork; without, the step's own streams
      // (so runs without accumulation keep the randomness they always had).
      const batches = Array.from({ length: accumulation }, (_, k) => {
        const start = offset + k * batchSize;
        return options.makeBatch(permutation!.subarray(start, start + batchSize), accumulation === 1 ? stepRandom.fork('batch') : stepRandom.fork('batch', k));
      });
      const learningRate = learningRateAt(step, schedule);
      model.beforeStep?.(step);
      const values: Record<string, number> = {};
      phases.forEach((phase, i) => {
        const random = single ? stepRandom : stepRandom.fork(phase.name);
        const scale = phase.learningRateScale ?? 1;
        const phaseValues = trainStep(phase, optimizers[i]!, batches, random, learningRate * scale, options.clipNorm ?? 0);
        const lossName = single ? 'loss' : `${phase.name}Loss`;
        if (!Number.isFinite(phaseValues['loss']!)) {
          throw new GenloomError('BAD_ARGUMENT', `the ${lossName} became ${phaseValues['loss']} at step ${step}; the last checkpoint is kept. Try a lower --lr`);
        }
        values[lossName] = phaseValues['loss']!;
        delete phaseValues['loss'];
        Object.assign(values, phaseValues);
      });
      for (const batch of batches) disposeBatch(batch);
      model.afterStep?.(step);
      step += 1;
      for (const [name, value] of Object.entries(values)) sums[name] = (sums[name] ?? 0) + value;
      summed += 1;
      if (summed === options.logEvery || step === totalSteps) {
        const seconds = (performance.now() - windowStart) / 1000;
        last = Object.fromEntries(Object.entries(sums).map(([name, sum]) => [name, sum / summed]));
        unitsPerSecond = (summed * unitsPerStep * accumulation) / seconds;
        const line = { step, epoch: step / stepsPerEpoch, learningRate, ...last, unitsPerSecond };
        appendFileSync(metricsPath, `${JSON.stringify(line)}\n`);
        for (const name of Object.keys(sums)) delete sums[name];
        summed = 0;
        windowStart = performance.now();
      }
      progress.update(step, last['loss'] !== undefined ? { loss: last['loss'] } : values);
      options.onProgress?.(step, totalSteps, values, unitsPerSecond);
      if (step % options.checkpointEvery === 0 && step < totalSteps) await save(step);
    }
    await save(step);
  } finally {
    progress.stop();
    for (const optimizer of optimizers) optimizer.dispose();
    if (options.handleSignals) process.off('SIGINT', onSignal);
  }
  return { step, stoppedEarly, last };
}

function phasesOf<B>(model: TrainableModel<B>, adam: Partial<AdamOptions> | undefined, freeze: string[] | undefined): TrainingPhase<B>[] {
  let phases: TrainingPhase<B>[];
  if (model.phases) phases = model.phases;
  else if (!model.loss) throw new Error('a trainable model needs loss() or phases');
  else phases = [{ name: '', params: model.params, loss: model.loss.bind(model), adam }];
  if (!freeze || freeze.length === 0) return phases;
  const trained = phases.map((phase) => ({ ...phase, params: withoutFrozen(phase.params, freeze, model.params) })).filter((phase) => Object.keys(phase.params).length > 0);
  if (trained.length === 0) throw new GenloomError('BAD_ARGUMENT', `--freeze ${freeze.join(',')} holds every trained parameter fixed: nothing is left to fine-tune`);
  return trained;
}

/** One phase's optimizer state is stored as-is; several phases prefix theirs with "<name>.". */
function optimizerStates<B>(phases: TrainingPhase<B>[], optimizers: AdamW[]): Record<string, StoredTensor> {
  if (phases.length === 1) return optimizers[0]!.state();
  const out: Record<string, StoredTensor> = {};
  phases.forEach((phase, i) => {
    for (const [key, tensor] of Object.entries(optimizers[i]!.state())) out[`${phase.name}.${key}`] = tensor;
  });
  return out;
}

function loadOptimizerStates<B>(phases: TrainingPhase<B>[], optimizers: AdamW[], stored: Map<string, StoredTensor>, source: string): void {
  if (phases.length === 1) return optimizers[0]!.loadState(stored, source);
  phases.forEach((phase, i) => {
    const prefix = `${phase.name}.`;
    const own = new Map([...stored].filter(([key]) => key.startsWith(prefix)).map(([key, tensor]) => [key.slice(prefix.length), tensor]));
    optimizers[i]!.loadState(own, `${source} (${phase.name})`);
  });
}

/**
 * One optimisation step of one phase over one or more (accumulated) batches; returns the loss parts
 * as numbers, averaged over the batches (`loss` is the total).
 */
function trainStep<B>(
  model: { params: Params; loss: LossFunction<B> },
  optimizer: AdamW,
  batches: B[],
  random: Random,
  learningRate: number,
  clipNorm: number,
): Record<string, number> {
  const values: Record<string, number> = {};
  let grads: tf.NamedTensorMap = {};
  batches.forEach((batch, k) => {
    const kept: Record<string, tf.Scalar> = {};
    const micro = gradientsOf(model.params, () => {
      const { total, parts } = model.loss(batch, batches.length === 1 ? random : random.fork('micro', k));
      for (const [name, part] of Object.entries(parts)) kept[name] = tf.keep(part);
      return total;
    });
    values['loss'] = (values['loss'] ?? 0) + micro.value.dataSync()[0]! / batches.length;
    for (const [name, part] of Object.entries(kept)) values[name] = (values[name] ?? 0) + part.dataSync()[0]! / batches.length;
    tf.dispose([micro.value, kept] as tf.TensorContainer);
    if (batches.length === 1) {
      grads = micro.grads;
      return;
    }
    for (const [name, grad] of Object.entries(micro.grads)) {
      const scaled = grad.div(batches.length);
      grad.dispose();
      const sum = grads[name];
      grads[name] = sum ? sum.add(scaled) : scaled;
      if (sum) {
        sum.dispose();
        scaled.dispose();
      }
    }
  });
  // Clipping to the global norm is folded into the optimizer's update (one pass on cpu and native).
  optimizer.apply(grads, learningRate, clipNorm);
  tf.dispose(grads as tf.TensorContainer);
  return values;
}
