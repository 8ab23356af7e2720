/**
 * What a checkpoint's config.json holds and how it is validated, with no Node imports, so the
 * studio's in-browser mode can check a fetched config.json the way `loadCheckpoint` checks one on
 * disk. checkpoint.ts (reading, writing and recovering model directories) re-exports this module.
 */
import { GenloomError } from '../core/errors.ts';
import { parseJsonText } from './json.ts';

export const checkpointFormat = 'genloom-checkpoint';
export const checkpointFormatVersion = 1;

/** What config.json holds. `config` is the family's own validated hyperparameters. */
export interface CheckpointManifest {
  format: typeof checkpointFormat;
  formatVersion: number;
  family: string;
  genloomVersion: string;
  config: Record<string, unknown>;
  /** How the model was trained: dataset, seed, step, epoch, the command line, … */
  training: Record<string, unknown> & { step: number };
  /** Latest evaluation results, filled in by `genloom eval`. */
  metrics?: Record<string, unknown>;
  /** Every recorded evaluation, keyed by how the samples were drawn ("ddim, 50 steps, guidance 3"). */
  evaluations?: Record<string, Record<string, unknown>>;
  /** The model this one was fine-tuned from, if any. */
  parent?: string;
}

/**
 * Parses and validates the text of a config.json; `path` names it in error messages.
 *
 * @example
 * const manifest = parseManifest(await (await fetch('models/vae-mnist/config.json')).text(), 'config.json');
 */
export function parseManifest(text: string, path: string): CheckpointManifest {
  const manifest = parseJsonText<unknown>(text, path);
  if (!isObject(manifest) || manifest['format'] !== checkpointFormat || typeof manifest['family'] !== 'string') {
    throw new GenloomError('CORRUPT_FILE', `${path} is not a genloom checkpoint config (no "format": "${checkpointFormat}" and "family")`);
  }
  const version = manifest['formatVersion'];
  if (!Number.isSafeInteger(version) || (version as number) < 1) {
    throw new GenloomError('CORRUPT_FILE', `${path} has "formatVersion" ${shown(version)}; expected a whole number from 1`);
  }
  if ((version as number) > checkpointFormatVersion) {
    throw new GenloomError('UNSUPPORTED', `${path} has checkpoint format ${version}; this genloom reads up to ${checkpointFormatVersion}: upgrade genloom`);
  }
  if (!isObject(manifest['config'])) throw new GenloomError('CORRUPT_FILE', `${path} has no "config" object (the model's hyperparameters)`);
  const training = manifest['training'];
  if (!isObject(training)) throw new GenloomError('CORRUPT_FILE', `${path} has no "training" object (how the model was trained)`);
  if (!Number.isSafeInteger(training['step']) || (training['step'] as number) < 0) {
    throw new GenloomError('CORRUPT_FILE', `${path} has "training.step" ${shown(training['step'])}; expected a whole number from 0`);
  }
  for (const [key, kind] of [['metrics', 'object'], ['evaluations', 'object'], ['parent', 'string']] as const) {
    const value = manifest[key];
    if (value !== undefined && !(kind === 'object' ? isObject(value) : typeof value === 'string')) {
      throw new GenloomError('CORRUPT_FILE', `${path} has "${key}" ${shown(value)}; expected ${kind === 'object' ? 'a JSON object' : 'a string'}`);
    }
  }
  return manifest as unknown as CheckpointManifest;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value from a file, shown in a message: as JSON, cut short so a hostile file cannot flood the line. */
export function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** Refuses weights whose recorded step is not the step config.json records (a mixed-up checkpoint). */
export function checkWeightsStep(manifest: CheckpointManifest, metadata: Record<string, string>, weightsPath: string, configName = 'config.json'): void {
  const step = String(manifest.training.step);
  if (metadata['step'] !== undefined && metadata['step'] !== step) {
    throw new GenloomError('CORRUPT_FILE', `${weightsPath} is from step ${metadata['step']} but ${configName} says step ${step}`);
  }
}
