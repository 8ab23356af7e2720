/**
 * Flag parsing shared by every command, so `--seed`, `--steps`, `--batch-size`, … mean the same
 * everywhere and bad values fail with a one-line message naming the flag.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { initEngine } from '../core/engine.ts';
import { GenloomError } from '../core/errors.ts';
import { loadModel } from '../models/registry.ts';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import { readManifest, type CheckpointManifest } from '../io/checkpoint.ts';
import type { LoadedModel, LatentModel } from '../models/family.ts';

export function parseInteger(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const number = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(number)) throw new InvalidArgumentError(`"${value}" is not an integer.`);
    if (number < min || number > max) throw new InvalidArgumentError(`${number} is out of range: use ${min}..${max}.`);
    return number;
  };
}

export function parseNumber(min = -Infinity, max = Infinity) {
  return (value: string): number => {
    const number = Number(value);
    if (value.trim() === '' || !Number.isFinite(number)) throw new InvalidArgumentError(`"${value}" is not a number.`);
    if (number < min || number > max) throw new InvalidArgumentError(`${number} is out of range: use ${min}..${max}.`);
    return number;
  };
}

export function parseChoice<T extends string>(choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) throw new InvalidArgumentError(`choose one of ${choices.join(', ')}.`);
    return value as T;
  };
}

/** Limits that keep one command from exhausting memory by accident. */
export const limits = { maxImages: 1024, maxFrames: 512, maxImportanceSamples: 100_000 };

export interface GlobalOptions {
  backend?: string;
  debug?: boolean;
  quiet?: boolean;
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals() as GlobalOptions;
}

/** Initialises the engine with the command's --backend and loads a model directory. */
export async function openModel(dir: string, command: Command): Promise<LoadedModel> {
  await initEngine({ backend: globalOptions(command).backend });
  return loadModel(dir);
}

/** The model's latent space, or an error saying this family has none. */
export function requireLatent(model: LoadedModel, dir: string): LatentModel {
  if (!model.latent) throw new GenloomError('UNSUPPORTED', `${dir} is a ${model.family} model, which has no latent space to encode into`);
  return model.latent;
}

/** The encoder of a model's latent space, or an error saying it has none (a GAN only decodes). */
export function requireEncoder(model: LoadedModel, dir: string): Required<LatentModel>['encode'] {
  const latent = requireLatent(model, dir);
  if (!latent.encode) throw new GenloomError('UNSUPPORTED', `${dir} is a ${model.family} model: it has no encoder to map images to latents; use seeds (e.g. --seed-from/--seed-to)`);
  return latent.encode;
}

export function requireImageShape(model: LoadedModel, dir: string): [number, number, number] {
  if (!model.imageShape) throw new GenloomError('UNSUPPORTED', `${dir} is a ${model.family} model, which does not make images`);
  return model.imageShape;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** The command line as the user typed it, for the records a command keeps in config.json. */
export function commandLine(): string {
  return ['genloom', ...process.argv.slice(2)].join(' ');
}

/** Reads a model's config.json, lets `update` change it, and writes it back atomically (`--record`). */
export function recordInManifest(dir: string, update: (manifest: CheckpointManifest) => void): void {
  const manifest = readManifest(dir);
  update(manifest);
  writeFileAtomic(join(dir, 'config.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}
