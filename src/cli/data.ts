/**
 * `genloom data show <dataset>`: a captioned contact sheet of a dataset, to see what a model learns from.
 */
import { Command } from 'commander';
import { datasetContactSheet, maxContactSheetImages } from '../data/contact-sheet.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { parseChoice, parseInteger } from './options.ts';

interface ShowFlags {
  limit: number;
  out: string;
  split: 'train' | 'test';
  seed: number;
  imageSize?: number;
}

export function dataCommand(): Command {
  const command = new Command('data').description('look at the datasets models train on');
  command
    .command('show')
    .description('write a contact sheet of a dataset\'s images with their captions (or labels)')
    .argument('<dataset>', 'mnist, fashion-mnist, emoji, a folder of images, or an image-dataset .safetensors file')
    .requiredOption('--out <file.png>', 'where to write the sheet')
    .option('--limit <n>', `how many images (1 to ${maxContactSheetImages})`, parseInteger(1, maxContactSheetImages), 64)
    .option('--split <train|test>', 'which split', parseChoice(['train', 'test'] as const), 'train')
    .option('--seed <n>', 'which images are drawn: the same seed gives the same sheet', parseInteger(0), 0)
    .option('--image-size <n>', 'emoji: 32 or 64; folders: the size images are resized to', parseInteger(4, 256))
    .action(async (dataset: string, flags: ShowFlags) => {
      const png = await datasetContactSheet(dataset, { split: flags.split, limit: flags.limit, seed: flags.seed, ...(flags.imageSize ? { imageSize: flags.imageSize } : {}) });
      writeFileAtomic(flags.out, png);
      process.stdout.write(`wrote ${flags.out}\n`);
    });
  return command;
}
