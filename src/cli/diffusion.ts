/**
 * What the CLI adds for models that denoise: the condition from --label or --prompt, the denoising
 * trajectory as a GIF and a strip, and the `inpaint` and `img2img` editing commands.
 */
import { Command } from 'commander';
import { GenloomError } from '../core/errors.ts';
import { generationRandom } from '../generate/seeds.ts';
import * as tf from '../core/tf.ts';
import { writeGif } from '../io/gif.ts';
import { imageGrid, readImage, scaleUp, writePng, type ImageData01 } from '../io/image.ts';
import { displayScale, fitImageForModel, imagesToTensor, tensorToImages, writeImageGrid } from '../io/tensor-image.ts';
import type { ImageEditing, LoadedModel, SampleOptions } from '../models/family.ts';
import { resolveCondition, textPrompts, type Condition as ConditionFlags } from '../generate/index.ts';
import { limits, openModel, parseChoice, parseInteger, parseNumber, requireImageShape } from './options.ts';

/**
 * Frames of a denoising run, x_t and x̂_0 as images, thinned as they come: whenever more than
 * `maxFrames` are kept, every other one is dropped and the stride doubles, so any number of steps
 * ends with between maxFrames/2 and maxFrames evenly spaced frames, plus always the last step.
 */
export class TrajectoryRecorder {
  private kept: { t: number; x: ImageData01[]; x0: ImageData01[] }[] = [];
  private last: { t: number; x: ImageData01[]; x0: ImageData01[] } | undefined;
  private stride = 1;

  constructor(private readonly maxFrames = 60) {}

  readonly onStep: NonNullable<SampleOptions['onStep']> = (index, t, x, x0) => {
    this.last = { t, x: tensorToImages(x), x0: tensorToImages(x0) };
    if (index % this.stride !== 0) return;
    this.kept.push(this.last);
    if (this.kept.length > this.maxFrames) {
      this.kept = this.kept.filter((_, i) => i % 2 === 0);
      this.stride *= 2;
    }
  };

  get frames(): { t: number; x: ImageData01[]; x0: ImageData01[] }[] {
    return this.last && this.kept[this.kept.length - 1] !== this.last ? [...this.kept, this.last] : this.kept;
  }

  /** The GIF (one grid of x_t per frame) at `gifPath`, and beside it a PNG strip: per sample, x_t over the steps and below it x̂_0. */
  write(gifPath: string, delayMs: number): string {
    const frames = this.frames;
    if (frames.length === 0) throw new GenloomError('UNSUPPORTED', 'the sampler reported no steps to draw');
    const scale = displayScale(frames[0]!.x[0]!);
    const columns = Math.ceil(Math.sqrt(frames[0]!.x.length));
    const grids = frames.map((frame) => imageGrid(frame.x, { columns }));
    // Hold the finished image so a looping GIF does not jump straight back to noise.
    writeGif(gifPath, [...grids, ...new Array<ImageData01>(10).fill(grids[grids.length - 1]!)], { delayMs, scale });
    const shown = pickEvenly(frames, 10);
    const rows = frames[0]!.x.flatMap((_, sample) => [shown.map((frame) => frame.x[sample]!), shown.map((frame) => frame.x0[sample]!)]);
    const stripPath = gifPath.replace(/\.gif$/i, '') + '.png';
    writePng(stripPath, scaleUp(imageGrid(rows.flat(), { columns: shown.length }), scale));
    return stripPath;
  }
}

function pickEvenly<T>(items: T[], count: number): T[] {
  if (items.length <= count) return items;
  return Array.from({ length: count }, (_, i) => items[Math.round((i * (items.length - 1)) / (count - 1))]!);
}

export interface SamplingFlags {
  sampler?: string;
  steps?: number;
  guidance?: number;
}

/** --sampler, --steps and --guidance, as sample, eval, inpaint and img2img take them; `scope` prefixes the help. */
export function addSamplingOptions(command: Command, scope = ''): Command {
  return command
    .option('--sampler <name>', `${scope}ddpm, ddim (default) or dpm-solver`, parseChoice(['ddpm', 'ddim', 'dpm-solver'] as const))
    .option('--steps <n>', `${scope}denoising steps (default: all for ddpm, 50 for ddim, 20 for dpm-solver)`, parseInteger(1, 10_000))
    .option('--guidance <w>', `${scope}classifier-free guidance scale for conditional models (default 4; 1 = none, 0 = ignore the label)`, parseNumber(0, 50));
}

/** The model's editing interface, or an error naming the family. */
function requireEditing(model: LoadedModel, dir: string): ImageEditing {
  if (!model.editing) throw new GenloomError('UNSUPPORTED', `${dir} is a ${model.family} model; inpaint and img2img need a diffusion model`);
  return model.editing;
}

interface EditFlags extends ConditionFlags, SamplingFlags {
  input: string;
  out: string;
  seed: number;
  n: number;
  invert?: boolean;
}

/** The options that inpaint and img2img share with sample. */
function editCommand(name: string, description: string): Command {
  const command = new Command(name)
    .description(description)
    .argument('<model>', 'a diffusion model directory')
    .requiredOption('--input <image>', 'the image to edit (PNG/JPEG; fitted to the model\'s size)')
    .requiredOption('--out <file.png>', 'the result (a grid when --n > 1)')
    .option('--n <count>', 'how many variations', parseInteger(1, limits.maxImages), 1)
    .option('--seed <n>', 'random seed: the same seed gives the same result', parseInteger(0), 0)
    .option('--label <label>', 'conditional models: the label to steer toward, as an index or a name')
    .option('--prompt <text>', 'text-to-image models: any text; conditional models: the label in words, e.g. "a handwritten eight"')
    .option('--negative-prompt <text>', 'text-to-image models: what guidance steers away from');
  return addSamplingOptions(command).option('--invert', 'invert the input first (dark-on-light drawings for MNIST-style models)');
}

/** Reads --input for the model, repeated --n times, and the sample options from the flags. */
async function openEdit(dir: string, flags: EditFlags, self: Command) {
  const model = await openModel(dir, self);
  const editing = requireEditing(model, dir);
  const shape = requireImageShape(model, dir);
  const text = textPrompts(model, dir, flags, flags.n);
  for (const note of text?.notes ?? []) process.stderr.write(`${note}\n`);
  const label = text ? undefined : resolveCondition(model, dir, flags);
  const input = readImage(flags.input);
  const one = imagesToTensor([fitImageForModel(input, shape, flags.invert, { path: flags.input, model: dir })]);
  const images = tf.tidy(() => tf.tile(one, [flags.n, 1, 1, 1]) as tf.Tensor4D);
  one.dispose();
  const options: SampleOptions = {
    labels: label === undefined ? undefined : new Int32Array(flags.n).fill(label),
    ...(text ? { prompts: text.prompts, ...(text.negativePrompt !== undefined ? { negativePrompt: text.negativePrompt } : {}) } : {}),
    sampler: flags.sampler,
    steps: flags.steps,
    guidance: flags.guidance,
  };
  return { model, editing, shape, input, images, options, random: generationRandom(flags.seed, self.name() as 'inpaint' | 'img2img') };
}

export function inpaintCommand(): Command {
  return editCommand('inpaint', 'fill the masked part of an image so it agrees with the rest (diffusion models)')
    .requiredOption('--mask <image>', 'same size as --input: white where to fill, black where to keep')
    .action(async (dir: string, flags: EditFlags & { mask: string }, self: Command) => {
      const { model, editing, shape, input, images, options, random } = await openEdit(dir, flags, self);
      try {
        const maskImage = readImage(flags.mask);
        if (maskImage.width !== input.width || maskImage.height !== input.height) {
          throw new GenloomError('SHAPE_MISMATCH', `the mask ${flags.mask} is ${maskImage.width}×${maskImage.height} but the input ${flags.input} is ${input.width}×${input.height}`);
        }
        const fitted = fitImageForModel(maskImage, [shape[0], shape[1], 1]);
        const mask = imagesToTensor([{ ...fitted, data: fitted.data.map((value) => (value >= 0.5 ? 1 : 0)) }]);
        let filled: tf.Tensor4D;
        try {
          filled = editing.inpaint(images, mask, random, options);
        } finally {
          mask.dispose();
        }
        writeImageGrid(flags.out, filled);
        process.stdout.write(`wrote ${flags.n === 1 ? 'the inpainted image' : `${flags.n} inpaintings`} to ${flags.out}\n`);
      } finally {
        images.dispose();
        model.dispose();
      }
    });
}

export function img2imgCommand(): Command {
  return editCommand('img2img', 'redraw an image: noise it partway and denoise it (toward a label or prompt), SDEdit-style (diffusion models)')
    .option('--strength <s>', 'how far to noise, in [0, 1]: 0 returns the input, 1 ignores it', parseNumber(), 0.6)
    .action(async (dir: string, flags: EditFlags & { strength: number }, self: Command) => {
      const { model, editing, images, options, random } = await openEdit(dir, flags, self);
      try {
        writeImageGrid(flags.out, editing.img2img(images, flags.strength, random, options));
        process.stdout.write(`wrote ${flags.n === 1 ? 'the redrawn image' : `${flags.n} variations`} to ${flags.out}\n`);
      } finally {
        images.dispose();
        model.dispose();
      }
    });
}
