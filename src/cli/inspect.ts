/**
 * `eval` and `info`: what a model is and how good it is.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { currentBackend } from '../core/engine.ts';
import { GenloomError } from '../core/errors.ts';
import { readManifest } from '../io/checkpoint.ts';
import { readSafetensors } from '../io/safetensors.ts';
import { addSamplingOptions, type SamplingFlags } from './diffusion.ts';
import { refuseUntakenFields } from '../generate/index.ts';
import { commandLine, limits, openModel, parseInteger, parseNumber, printJson, recordInManifest } from './options.ts';

interface EvalFlags extends SamplingFlags {
  dataset?: string;
  importanceSamples: number;
  limit?: number;
  seed: number;
  json?: boolean;
  record?: boolean;
  samples?: number;
  classifier?: string;
  clip?: string;
  truncation?: number;
}

export function evalCommand(): Command {
  const command = new Command('eval')
    .description('evaluate a model (VAE: −ELBO, IWAE NLL bound; GAN, diffusion: fid_classifier, precision/recall, conditional accuracy; PixelCNN: NLL in nats and bits/dim; music: frame and event NLL, note statistics; transformer: loss, bits/char; classifier: test accuracy)')
    .argument('<model>', 'model directory')
    .option('--dataset <name|path>', 'test data (default: the training dataset\'s test split)')
    .option('--importance-samples <k>', 'samples per image for the IWAE bound', parseInteger(1, limits.maxImportanceSamples), 1000)
    .option('--limit <n>', 'test examples for the expensive metrics (VAE: images for the IWAE bound, default 500; the ELBO uses all. PixelCNN, music: default all)', parseInteger(1, 1_000_000))
    .option('--samples <n>', 'image generators: samples for the image metrics (default 10000; PixelCNN: none unless given)', parseInteger(100, 100_000))
    .option('--classifier <dir>', 'image generators: the feature net (default: the shipped classifier for the dataset)')
    .option('--clip <dir>', 'colour image generators: the clip model whose features fid_clip, precision/recall and CLIP score use (default: models/clip-emoji)')
    .option('--truncation <psi>', 'GANs: draw the samples with truncation ψ in (0, 1] (default 1: none)', parseNumber());
  return addSamplingOptions(command, 'diffusion: ')
    .option('--seed <n>', 'seed for the Monte-Carlo estimates and samples', parseInteger(0), 0)
    .option('--json', 'print one JSON object')
    .option('--record', 'store the results in the model\'s config.json: under "metrics" (the latest) and "evaluations" (one per sampling setting)')
    .action(async (dir: string, flags: EvalFlags, self: Command) => {
      const model = await openModel(dir, self);
      // eval draws its samples with these settings: each only where the family takes it.
      refuseUntakenFields(model, dir, { truncation: flags.truncation, sampler: flags.sampler, steps: flags.steps, guidance: flags.guidance });
      if (!model.evaluate) throw new GenloomError('UNSUPPORTED', `${dir} is a ${model.family} model, which has no evaluation yet`);
      const started = performance.now();
      const quiet = Boolean(flags.json) || Boolean(self.optsWithGlobals().quiet);
      const metrics = await model.evaluate({ dataset: flags.dataset, importanceSamples: flags.importanceSamples, limit: flags.limit, samples: flags.samples, classifier: flags.classifier, clip: flags.clip, truncation: flags.truncation, sampler: flags.sampler, steps: flags.steps, guidance: flags.guidance, seed: flags.seed, quiet });
      model.dispose();
      const result = { model: dir, ...metrics, backend: currentBackend(), seconds: Number(((performance.now() - started) / 1000).toFixed(1)), date: new Date().toISOString().slice(0, 10) };
      if (flags.record) recordInManifest(dir, (manifest) => {
        const recorded = { ...result, command: commandLine() };
        manifest.metrics = recorded;
        // One entry per dataset and way of drawing the samples, so a model keeps e.g. its DDIM and DDPM figures side by side.
        const facts = result as Record<string, unknown>;
        const setting = [
          facts['dataset'],
          facts['sampler'] !== undefined && `${facts['sampler']}, ${facts['steps']} steps, guidance ${facts['guidance']}`,
          flags.truncation !== undefined && `truncation ${flags.truncation}`,
          facts['samples'] !== undefined && `${facts['samples']} samples`,
        ]
          .filter(Boolean)
          .join('; ');
        manifest.evaluations = { ...manifest.evaluations, [setting || 'default']: recorded };
      });
      if (flags.json) printJson(result);
      else printMetrics(result);
    });
}

export function infoCommand(): Command {
  return new Command('info')
    .description('show a model\'s family, config, training and metrics')
    .argument('<model>', 'model directory')
    .option('--json', 'print config.json plus parameter counts as JSON')
    .action((dir: string, flags: { json?: boolean }) => {
      const manifest = readManifest(dir);
      const weights = readSafetensors(join(dir, 'model.safetensors'));
      let parameters = 0;
      for (const tensor of weights.tensors.values()) parameters += tensor.data.length;
      const hasOptimizer = existsSync(join(dir, 'optimizer.safetensors'));
      const info = { directory: dir, parameters, tensors: weights.tensors.size, resumable: hasOptimizer, ...manifest };
      if (flags.json) return printJson(info);
      const training = manifest.training as Record<string, unknown>;
      const lines = [
        `${dir}: a ${manifest.family} model with ${parameters.toLocaleString('en')} parameters (genloom ${manifest.genloomVersion})`,
        `config:   ${JSON.stringify(manifest.config)}`,
        `trained:  ${training['step']} steps on ${training['dataset']} (seed ${training['seed']})${hasOptimizer ? ', resumable' : ''}`,
        `command:  ${training['command'] ?? 'unknown'}`,
      ];
      const evaluations = Object.entries(manifest.evaluations ?? {});
      if (evaluations.length > 1) {
        // Several recorded settings: one line each with the headline figures.
        const headline = ['fid_classifier', 'fid_clip', 'precision', 'recall', 'conditional_accuracy', 'iwae_nll', 'test_accuracy'];
        lines.push('evaluations:');
        for (const [setting, result] of evaluations) {
          const figures = headline.filter((key) => typeof result[key] === 'number').map((key) => `${key} ${Number((result[key] as number).toFixed(4))}`);
          lines.push(`  ${setting}: ${figures.join(', ')}`);
        }
      } else if (manifest.metrics) {
        lines.push(`metrics:  ${JSON.stringify(manifest.metrics)}`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

/** Metrics as aligned lines; a nested reference (real data measured the same way) sits beside each figure. */
function printMetrics(result: Record<string, unknown>): void {
  const reference = (result['reference'] ?? {}) as Record<string, unknown>;
  const format = (value: unknown) => (typeof value === 'number' ? String(Number(value.toFixed(4))) : typeof value === 'object' ? JSON.stringify(value) : String(value));
  for (const [key, value] of Object.entries(result)) {
    if (key === 'reference') continue;
    const beside = key in reference ? `   (real data: ${format(reference[key])})` : '';
    process.stdout.write(`${key.padEnd(24)} ${format(value)}${beside}\n`);
  }
  if (reference['description']) process.stdout.write(`${'real data'.padEnd(24)} ${String(reference['description'])}\n`);
}
