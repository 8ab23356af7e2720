/**
 * `genloom complete`: an autoregressive image model (PixelCNN) finishes images from their top rows.
 * The output grid starts with the kept rows alone (the rest grey), then one completion per seed.
 */
import { Command } from 'commander';
import { GenloomError } from '../core/errors.ts';
import { readImage } from '../io/image.ts';
import { fitImageForModel, imagesToTensor, writeImagesGrid } from '../io/tensor-image.ts';
import { LazyProgress } from '../train/progress.ts';
import { completeImages, type Condition as ConditionFlags } from '../generate/index.ts';
import { limits, openModel, parseInteger, requireImageShape } from './options.ts';

interface CompleteFlags extends ConditionFlags {
  input: string;
  out: string;
  rows?: number;
  n: number;
  seed: number;
  invert?: boolean;
}

export function completeCommand(): Command {
  return new Command('complete')
    .description('finish an image from its top rows, pixel by pixel (PixelCNN models)')
    .argument('<model>', 'a PixelCNN model directory')
    .requiredOption('--input <image>', 'the image whose top rows to keep (PNG/JPEG; fitted to the model\'s size)')
    .requiredOption('--out <file.png>', 'a grid: the kept rows, then the completions')
    .option('--rows <n>', 'how many rows to keep, counted on the model\'s image size (default: half)', parseInteger(1, 4096))
    .option('--n <count>', 'how many completions', parseInteger(1, limits.maxImages), 8)
    .option('--seed <n>', 'random seed: the same seed gives the same completions', parseInteger(0), 0)
    .option('--label <label>', 'conditional models: the label, as an index or a name')
    .option('--prompt <text>', 'conditional models: the label in words')
    .option('--invert', 'invert the input first (dark-on-light drawings for MNIST-style models)')
    .action(async (dir: string, flags: CompleteFlags, self: Command) => {
      const model = await openModel(dir, self);
      try {
        if (!model.completion) throw new GenloomError('UNSUPPORTED', `${dir} is a ${model.family} model; complete needs a PixelCNN (inpaint does this for diffusion models)`);
        const shape = requireImageShape(model, dir);
        const one = imagesToTensor([fitImageForModel(readImage(flags.input), shape, flags.invert, { path: flags.input, model: dir })]);
        const started = performance.now();
        const progress = new LazyProgress('complete', Boolean(self.optsWithGlobals().quiet));
        let result;
        try {
          result = completeImages(model, { image: one, rows: flags.rows, n: flags.n, seed: flags.seed, label: flags.label, prompt: flags.prompt }, { name: dir, onProgress: progress.update });
        } finally {
          progress.stop();
          one.dispose();
        }
        const rows = result.rows;
        // The kept rows (thresholded as the model sees them, over grey), then the completions.
        writeImagesGrid(flags.out, [result.input, ...result.images]);
        process.stdout.write(`wrote the kept ${rows} rows and ${flags.n} completion${flags.n > 1 ? 's' : ''} to ${flags.out} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
      } finally {
        model.dispose();
      }
    });
}
