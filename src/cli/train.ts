/**
 * `genloom train <family>`: one subcommand per registered family, with the shared training flags and
 * the family's own.
 */
import { Command, Option } from 'commander';
import { initEngine } from '../core/engine.ts';
import { GenloomError } from '../core/errors.ts';
import { hasCheckpoint, readManifest } from '../io/checkpoint.ts';
import type { FamilyDefinition } from '../models/family.ts';
import { buildTrainRequest, trainSettingRanges, type TrainSettings } from '../train/train-settings.ts';
import { families } from '../models/registry.ts';
import { globalOptions, parseInteger, parseNumber, printJson } from './options.ts';

/** Family option values by config key, from commander's parsed flags. */
export function configFromFlags(family: FamilyDefinition, flags: Record<string, unknown>): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const option of family.options) {
    const key = camel(option.flags);
    if (flags[key] !== undefined) config[option.configKey] = flags[key];
  }
  return config;
}

interface SharedTrainFlags {
  dataset?: string;
  out: string;
  seed?: number;
  epochs?: number;
  steps?: number;
  batchSize?: number;
  lr?: number;
  resume?: boolean;
  overwrite?: boolean;
  preset?: string;
  imageSize?: number;
  json?: boolean;
}

export function trainCommand(): Command {
  const command = new Command('train').description('train a model: genloom train <family> --dataset … --out …');
  const ranges = trainSettingRanges;
  for (const family of Object.values(families)) {
    const datasets = family.datasets ?? 'mnist, fashion-mnist, emoji (colour, 32 or 64 px), or a folder of images (subfolders = labels)';
    const sub = command
      .command(family.name)
      .description(family.summary)
      .option('--dataset <name|path>', datasets)
      .requiredOption('--out <dir>', 'model directory: checkpoints, metrics.jsonl, loss.png, samples.png')
      .option('--seed <n>', 'random seed: the same seed gives the same model', parseInteger(ranges.seed.min))
      .option('--epochs <n>', 'passes over the dataset (default 10)', parseNumber(ranges.epochs.min, ranges.epochs.max))
      .option('--steps <n>', 'optimizer steps, instead of --epochs', parseInteger(ranges.steps.min))
      .option('--batch-size <n>', 'examples per step (default 128)', parseInteger(ranges.batchSize.min, ranges.batchSize.max))
      .option('--lr <rate>', 'peak learning rate (default 1e-3, cosine decay)', parseNumber(ranges.learningRate.min, ranges.learningRate.max))
      .option('--resume', 'continue the run in --out from its last checkpoint')
      .option('--overwrite', 'replace a model already in --out (otherwise an error: a new run never silently erases one)')
      .addOption(new Option('--preset <name>', 'model size').choices(family.presets))
      .option('--image-size <n>', 'for folders: resize images to n×n (default 32); emoji: 32 or 64', parseInteger(ranges.imageSize.min, ranges.imageSize.max))
      .option('--json', 'print the summary as JSON');
    for (const option of family.options) sub.option(option.flags, option.description, option.parse);
    sub.action(async (flags: SharedTrainFlags & Record<string, unknown>, self: Command) => {
      const backend = await initEngine({ backend: globalOptions(self).backend });
      if (!flags.resume && !flags.overwrite && hasCheckpoint(flags.out)) {
        throw new GenloomError('BAD_ARGUMENT', `${flags.out} already holds a model: continue it with --resume, or replace it with --overwrite`);
      }
      if (!flags.dataset && !flags.resume) {
        self.error(`error: --dataset is required (${datasets})`);
      }
      const quiet = Boolean(globalOptions(self).quiet);
      if (!quiet) {
        // A resumed run trains on the dataset its checkpoint names.
        const dataset = flags.dataset ?? (hasCheckpoint(flags.out) ? String(readManifest(flags.out).training['dataset'] ?? 'its dataset') : 'its dataset');
        process.stderr.write(`genloom: ${flags.resume ? 'resuming' : 'training'} ${family.name} on ${dataset} with the ${backend} backend\n`);
      }
      const settings: TrainSettings = {
        dataset: flags.dataset ?? '',
        outDir: flags.out,
        seed: flags.seed,
        epochs: flags.epochs,
        steps: flags.steps,
        batchSize: flags.batchSize,
        learningRate: flags.lr,
        resume: Boolean(flags.resume),
        preset: flags.preset,
        imageSize: flags.imageSize,
        config: configFromFlags(family, flags),
      };
      const summary = await family.train(buildTrainRequest(settings, { command: ['genloom', ...process.argv.slice(2)].join(' '), quiet, backend }));
      if (flags.json) printJson(summary);
      else {
        const losses = Object.entries(summary.last).map(([name, value]) => `${name} ${value.toFixed(3)}`).join(', ');
        process.stdout.write(
          `${summary.stoppedEarly ? 'stopped' : 'finished'} at step ${summary.steps}; saved to ${summary.outDir}${losses ? ` (${losses})` : ''}\n` +
            (summary.stoppedEarly ? `continue with: genloom train ${family.name} --resume --out ${summary.outDir}\n` : ''),
        );
      }
    });
  }
  return command;
}

/** "--latent-dim <n>" → "latentDim" (commander's attribute name). */
function camel(flags: string): string {
  const long = flags.split(/[ ,]+/).find((part) => part.startsWith('--'))!.slice(2);
  return long.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}
