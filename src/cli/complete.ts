/**
 * `genloom complete`: an autoregressive image model (PixelCNN) finishes images from their top rows.
 * The output grid starts with the kept rows alone (the rest grey), then one completion per seed.
 */
import { Command } from 'commander';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import * as tf from '../core/tf.ts';
import { readImage } from '../io/image.ts';
import { fitImageForModel, imagesToTensor, writeImageGrid } from '../io/tensor-image.ts';
import { LazyProgress } from '../train/progress.ts';
import { resolveCondition, type ConditionFlags } from './labels.ts';
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
        const rows = flags.rows ?? Math.floor(shape[0] / 2);
        if (rows >= shape[0]) throw new GenloomError('BAD_ARGUMENT', `--rows ${rows} keeps the whole ${shape[0]}-row image: keep fewer rows`);
        const label = resolveCondition(model, dir, flags);
        const one = imagesToTensor([fitImageForModel(readImage(flags.input), shape, flags.invert)]);
        const started = performance.now();
        const progress = new LazyProgress('complete', Boolean(self.optsWithGlobals().quiet));
        const grid = tf.tidy(() => {
          const given = tf.tile(one, [flags.n, 1, 1, 1]) as tf.Tensor4D;
          const completed = model.completion!.complete(given, rows, fromSeed(flags.seed).fork('complete'), { labels: label === undefined ? undefined : new Int32Array(flags.n).fill(label), onProgress: progress.update });
          // The kept rows, thresholded as the model sees them, over grey.
          const kept = one.greaterEqual(0.5).toFloat().slice([0, 0, 0, 0], [1, rows, -1, -1]);
          const shown = tf.concat([kept, tf.fill([1, shape[0] - rows, shape[1], shape[2]], 0.5)], 1);
          return tf.concat([shown, completed]) as tf.Tensor4D;
        });
        progress.stop();
        one.dispose();
        writeImageGrid(flags.out, grid);
        process.stdout.write(`wrote the kept ${rows} rows and ${flags.n} completion${flags.n > 1 ? 's' : ''} to ${flags.out} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
      } finally {
        model.dispose();
      }
    });
}
