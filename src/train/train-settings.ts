/**
 * What a training run is asked to do, whoever asks (the CLI's flags, a server job's body, a library
 * caller): the shared settings, their ranges, the family's TrainRequest, and the `genloom train`
 * command line that would ask for the same run.
 */
import type { FamilyDefinition, TrainRequest } from '../models/family.ts';

/** The ranges of the shared training settings, for the CLI's flags and the server's job bodies alike. */
export const trainSettingRanges = {
  seed: { min: 0, max: Number.MAX_SAFE_INTEGER },
  epochs: { min: 0.001, max: 10_000 },
  steps: { min: 1, max: Number.MAX_SAFE_INTEGER },
  batchSize: { min: 1, max: 4096 },
  learningRate: { min: 1e-8, max: 10 },
  imageSize: { min: 4, max: 256 },
} as const;

/**
 * What a training run is asked to do, whoever asks: the CLI's flags or a server job's body. The
 * request's own fields, with the seed optional (a --resume takes its checkpoint's).
 */
export type TrainSettings = Pick<TrainRequest, 'dataset' | 'outDir' | 'epochs' | 'steps' | 'batchSize' | 'learningRate' | 'resume' | 'preset' | 'imageSize' | 'config'> & { seed?: number };

/** The family's TrainRequest for `settings`; `runtime` says how it runs and what config.json records as its command. */
export function buildTrainRequest(settings: TrainSettings, runtime: { command: string; quiet: boolean; backend: string }): TrainRequest {
  return {
    ...settings,
    // prepareImageTraining falls back to the checkpoint's seed on --resume, else 0.
    seed: settings.seed as number,
    ...runtime,
  };
}

/**
 * The `genloom train` command line that asks for `settings`: what a run started elsewhere (the
 * server) records in config.json, so it can be reproduced from a shell.
 */
export function trainCommandLine(family: FamilyDefinition, settings: TrainSettings): string {
  const words = ['genloom', 'train', family.name];
  const add = (flag: string, value: unknown) => {
    if (value !== undefined) words.push(flag, quoteWord(String(value)));
  };
  if (settings.dataset) add('--dataset', settings.dataset);
  add('--out', settings.outDir);
  add('--seed', settings.seed);
  add('--epochs', settings.epochs);
  add('--steps', settings.steps);
  add('--batch-size', settings.batchSize);
  add('--lr', settings.learningRate);
  if (settings.resume) words.push('--resume');
  add('--preset', settings.preset);
  add('--image-size', settings.imageSize);
  for (const option of family.options) {
    const value = settings.config[option.configKey];
    if (value === undefined || value === false) continue;
    const flag = option.flags.split(/[ ,]+/).find((part) => part.startsWith('--'))!;
    // Switches ("--conditional") take no value; lists are written as commander's "32,64".
    if (!option.flags.includes('<')) words.push(flag);
    else add(flag, Array.isArray(value) ? value.join(',') : value);
  }
  return words.join(' ');
}

function quoteWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

