/**
 * `genloom import gpt2 <dir> --out <model>`: a GPT-2-family checkpoint from a local folder into a
 * genloom transformer directory.
 */
import { Command } from 'commander';
import { initEngine } from '../core/engine.ts';
import { importGpt2 } from '../models/transformer/import-gpt2.ts';
import { globalOptions } from './options.ts';

export function importCommand(): Command {
  const command = new Command('import').description('bring a model from another tool into genloom');
  command
    .command('gpt2')
    .description('a GPT-2-family checkpoint (config.json, model.safetensors, vocab.json, merges.txt) from a local folder')
    .argument('<dir>', 'the folder holding the four files')
    .requiredOption('--out <dir>', 'the genloom model directory to write')
    .action(async (dir: string, flags: { out: string }, self: Command) => {
      await initEngine({ backend: globalOptions(self).backend });
      const { config, parameters } = importGpt2(dir, flags.out, ['genloom', ...process.argv.slice(2)].join(' '));
      process.stdout.write(`imported ${dir} into ${flags.out}: ${config.layers} layers, ${config.heads} heads, width ${config.dim}, context ${config.context}, ${config.vocabularySize} tokens, ${(parameters / 1e6).toFixed(2)}M parameters\n`);
    });
  return command;
}
