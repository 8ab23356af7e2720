/**
 * Checkpoints: a model directory holds
 *   config.json             family, hyperparameters, data, training state, package version, metrics
 *   model.safetensors       the weights (readable by PyTorch's safetensors)
 *   optimizer.safetensors   optimizer moments and step, for --resume (absent in shipped models)
 * beside whatever else a run writes there (metrics.jsonl, loss.png, samples).
 *
 * A save must never leave a broken checkpoint, even when killed half-way. The three files are
 * written into a staging directory `<dir>.saving` (other files are hard-linked in, not copied),
 * fsynced, and swapped in with two renames: `<dir>` → `<dir>.old`, `<dir>.saving` → `<dir>`. A kill
 * at any point leaves either the old or the new checkpoint complete; `recoverCheckpoint` (run before
 * every save and load) finishes or rolls back an interrupted swap.
 */
import {
  copyFileSync,
  existsSync,
  linkSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { makeDirectories, syncDirectory, writeFileSynced } from './atomic.ts';
import { encodeSafetensors, readSafetensors, type StoredTensor } from './safetensors.ts';
import { fileKind, readRegularFile, requireRegularFile } from './regular-file.ts';
import { genloomVersion } from '../version.ts';
import { checkpointFormat, checkpointFormatVersion, checkWeightsStep, parseManifest, type CheckpointManifest } from './checkpoint-format.ts';

export { checkpointFormat, checkpointFormatVersion, checkWeightsStep, parseManifest, type CheckpointManifest } from './checkpoint-format.ts';

const weightsFile = 'model.safetensors';
const optimizerFile = 'optimizer.safetensors';
const configFile = 'config.json';
const checkpointFiles = new Set([weightsFile, optimizerFile, configFile]);
/** config.json holds hyperparameters, training records and evaluations: kilobytes, never this much. */
const maxConfigBytes = 64 * 2 ** 20;

/**
 * A new config.json for a model of `family`, in this version's format.
 *
 * @example
 * const manifest = newManifest('vae', { latentDim: 16 }, { step: 0, dataset: 'mnist' });
 */
export function newManifest(family: string, config: Record<string, unknown>, training: CheckpointManifest['training']): CheckpointManifest {
  return { format: checkpointFormat, formatVersion: checkpointFormatVersion, family, genloomVersion, config, training };
}

export interface Checkpoint {
  manifest: CheckpointManifest;
  weights: Map<string, StoredTensor>;
  optimizer?: Map<string, StoredTensor>;
}

/** Mirrors every file of `from` (except the checkpoint's own) into `to` by hard links. */
function linkOtherFiles(from: string, to: string, topLevel = true): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (topLevel && checkpointFiles.has(entry.name)) continue;
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) {
      makeDirectories(target);
      linkOtherFiles(source, target, false);
    } else if (entry.isFile()) {
      try {
        linkSync(source, target);
      } catch {
        copyFileSync(source, target);
      }
    }
  }
}

/** Completes or rolls back a save that was interrupted; a no-op for a clean directory. */
export function recoverCheckpoint(dir: string): void {
  const old = `${dir}.old`;
  const staging = `${dir}.saving`;
  if (!existsSync(dir) && existsSync(old)) renameSync(old, dir); // killed between the two renames
  if (existsSync(old)) rmSync(old, { recursive: true, force: true });
  if (existsSync(staging)) rmSync(staging, { recursive: true, force: true });
}

/**
 * Writes a checkpoint atomically (see the file comment).
 *
 * @example
 * saveCheckpoint('runs/mine', { manifest, weights: { bias: { dtype: 'F32', shape: [2], data: Float32Array.of(0, 1) } } });
 */
export function saveCheckpoint(
  dir: string,
  checkpoint: { manifest: CheckpointManifest; weights: Record<string, StoredTensor>; optimizer?: Record<string, StoredTensor> },
  options: { halfPrecisionWeights?: boolean } = {},
): void {
  recoverCheckpoint(dir);
  const staging = `${dir}.saving`;
  makeDirectories(staging);
  const hadPrevious = existsSync(dir);
  if (hadPrevious) linkOtherFiles(dir, staging);
  const stepMetadata = { step: String(checkpoint.manifest.training.step), family: checkpoint.manifest.family };
  writeFileSynced(join(staging, weightsFile), encodeSafetensors(checkpoint.weights, stepMetadata, { halfPrecision: options.halfPrecisionWeights }));
  if (checkpoint.optimizer) {
    writeFileSynced(join(staging, optimizerFile), encodeSafetensors(checkpoint.optimizer, stepMetadata));
  }
  writeFileSynced(join(staging, configFile), `${JSON.stringify(checkpoint.manifest, null, 2)}\n`);
  syncDirectory(staging);
  if (hadPrevious) renameSync(dir, `${dir}.old`);
  renameSync(staging, dir);
  syncDirectory(dirname(dir));
  rmSync(`${dir}.old`, { recursive: true, force: true });
}

/**
 * Reads and validates config.json of a model directory.
 *
 * @example
 * readManifest('models/vae-mnist').training.step; // 7488
 */
export function readManifest(dir: string): CheckpointManifest {
  if (!existsSync(dir) && existsSync(`${dir}.old`)) recoverCheckpoint(dir);
  if (!existsSync(dir)) throw new GenloomError('NOT_FOUND', `no model at ${dir}: the directory does not exist`);
  const stats = statSync(dir);
  if (!stats.isDirectory()) {
    const kind = stats.isFile() ? 'a file' : fileKind(stats);
    throw new GenloomError('BAD_ARGUMENT', `${dir} is ${kind}; give the model's directory (the one holding config.json)`);
  }
  const path = join(dir, configFile);
  if (!existsSync(path)) {
    throw new GenloomError('NOT_FOUND', `${dir} is not a genloom model: it has no ${configFile}`);
  }
  requireRegularFiles(dir, [...checkpointFiles]);
  return parseManifest(readRegularFile(path, { maxBytes: maxConfigBytes, what: 'config files' }).toString('utf8'), path);
}

/**
 * Refuses a model folder in which any of `names` that exists is not a regular file: a FIFO there
 * would block whatever opens it forever, so nothing of the folder is opened before this check.
 */
export function requireRegularFiles(dir: string, names: readonly string[]): void {
  for (const name of names) {
    const path = join(dir, name);
    if (existsSync(path)) requireRegularFile(path);
  }
}

/**
 * Loads a checkpoint. With `expectFamily`, a checkpoint of another family is refused with a message
 * that says which family it is.
 *
 * @example
 * const { manifest, weights } = loadCheckpoint('models/vae-mnist', { expectFamily: 'vae' });
 * weights.get(name); // { dtype, shape, data } for each tensor name
 */
export function loadCheckpoint(dir: string, options: { expectFamily?: string; withOptimizer?: boolean } = {}): Checkpoint {
  const manifest = readManifest(dir);
  if (options.expectFamily && manifest.family !== options.expectFamily) {
    throw new GenloomError('WRONG_FAMILY', `${dir} holds a ${manifest.family} model, not a ${options.expectFamily}`);
  }
  const weightsPath = join(dir, weightsFile);
  if (!existsSync(weightsPath)) throw new GenloomError('NOT_FOUND', `${dir} has no ${weightsFile}`);
  const weights = readSafetensors(weightsPath);
  checkWeightsStep(manifest, weights.metadata, weightsPath, configFile);
  const step = String(manifest.training.step);
  const checkpoint: Checkpoint = { manifest, weights: weights.tensors };
  const optimizerPath = join(dir, optimizerFile);
  if (options.withOptimizer) {
    if (!existsSync(optimizerPath)) {
      throw new GenloomError('NOT_FOUND', `${dir} has no ${optimizerFile}, so training cannot resume from it (shipped models omit it; fine-tune instead)`);
    }
    const optimizer = readSafetensors(optimizerPath);
    if (optimizer.metadata['step'] !== step) {
      throw new GenloomError('CORRUPT_FILE', `${optimizerPath} is from step ${optimizer.metadata['step']} but ${configFile} says step ${step}`);
    }
    checkpoint.optimizer = optimizer.tensors;
  }
  return checkpoint;
}

/**
 * True when `dir` holds a loadable checkpoint config (used by --resume to decide).
 *
 * @example
 * const resume = hasCheckpoint('runs/vae'); // false for a new run directory
 */
export function hasCheckpoint(dir: string): boolean {
  return existsSync(join(dir, configFile)) || (!existsSync(dir) && existsSync(join(`${dir}.old`, configFile)));
}
