/**
 * `sample`, `decode` and `interpolate`: make images from noise, from given latents, and along a
 * path between two images or two seeds.
 */
import { readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { GenloomError } from '../core/errors.ts';
import { makeDirectories } from '../io/atomic.ts';
import * as tf from '../core/tf.ts';
import { writeGif } from '../io/gif.ts';
import { imageStrip, scaleUp, writePng } from '../io/image.ts';
import { displayScale, readImagesForModel, tensorToImages, writeImageGrid, writeImagesGrid } from '../io/tensor-image.ts';
import { decodeRows, encodeMeans, interpolate, type InterpolationMethod } from '../latent/latent.ts';
import { TrajectoryRecorder, addSamplingOptions, type SamplingFlags } from './diffusion.ts';
import { generateImages, generationRandom, latentsForSeed, resolveModelLabel, type ClipRequest, type ImageRequest, type MusicRequest, type ShapeRequest } from '../generate/index.ts';
import type { LoadedModel } from '../models/family.ts';
import { getFamily } from '../models/registry.ts';
import { readPrimer } from '../music/midi.ts';
import { LazyProgress } from '../train/progress.ts';
import { addMusicOptions, composeToFiles, musicFlagNames, type MusicSampleFlags } from './music.ts';
import { interpolateShapes, sampleShapes } from './shape.ts';
import { sampleClips } from './video.ts';
import { limits, openModel, parseChoice, parseInteger, parseNumber, requireImageShape, requireLatent } from './options.ts';

interface SampleFlags extends SamplingFlags, MusicSampleFlags {
  n?: number;
  seed: number;
  columns?: number;
  out: string;
  label?: string;
  truncation?: number;
  reject?: boolean;
  prompt?: string;
  negativePrompt?: string;
  trajectory?: boolean;
  delay: number;
  format: 'grid' | 'files';
  frames?: number;
  fps?: number;
}

export function sampleCommand(): Command {
  const command = new Command('sample')
    .description('generate images from seeded noise (and a label) as a PNG grid or files; music models compose MIDI + WAV + piano roll')
    .argument('<model>', 'model directory (e.g. models/vae-mnist, runs/gan or models/music-bach)')
    .option('--n <count>', 'how many images (default 64) or pieces (default 1)', parseInteger(1, limits.maxImages))
    .option('--seed <n>', 'random seed: the same seed gives the same images', parseInteger(0), 0)
    .option('--label <label>', 'conditional models: the label, as an index or a name (e.g. 7 or sneaker), or "all" for one grid column per label')
    .option('--prompt <text>', 'text-to-image models: any text (empty: unconditional); conditional models: the label in words, e.g. "a handwritten seven" (an unknown word lists the ones it knows)')
    .option('--negative-prompt <text>', 'text-to-image models: what guidance steers away from (default: the empty prompt)')
    .option('--truncation <psi>', 'GAN truncation in (0, 1]: lower trades variety for fidelity', parseNumber())
    .option('--reject', 'GAN: discriminator rejection sampling, keeping samples the discriminator rates as real');
  return addSamplingOptions(addMusicOptions(command), 'diffusion: ')
    .option('--trajectory', 'diffusion: --out is a GIF of the denoising, step by step, with a PNG strip of x_t and the x_0 estimate beside it')
    .option('--delay <ms>', 'GIF frame delay for --trajectory', parseInteger(10, 10_000), 80)
    .option('--format <kind>', 'grid: one PNG; files: --out is a folder of sample-000.png, … (replacing the sample-*.png already there)', parseChoice(['grid', 'files'] as const), 'grid')
    .option('--columns <n>', 'grid columns (default: square)', parseInteger(1, 1024))
    .option('--frames <n>', 'video: the clip length (must be the one the model was trained for)', parseInteger(1, limits.maxFrames))
    .option('--fps <n>', 'video: frames per second of the GIF and MP4 (default 8)', parseInteger(1, 60))
    .requiredOption('--out <path>', 'the grid PNG, or the folder for --format files; video and shape models: a folder of clips (GIF + MP4 + PNG strip) or meshes (OBJ + PLY + preview.png)')
    .action(async (dir: string, flags: SampleFlags, self: Command) => {
      const model = await openModel(dir, self);
      try {
        process.stdout.write(`${await sampleToFiles(model, dir, flags, self)}\n`);
      } finally {
        model.dispose();
      }
    });
}

/** The flags of `sample` that are request fields, as the user typed them (flags with defaults count only when typed). */
const requestFlags = ['n', 'label', 'prompt', 'negativePrompt', 'truncation', 'reject', 'sampler', 'steps', 'guidance', 'trajectory', 'frames', 'fps', ...musicFlagNames] as const;
/** Flags that shape an image grid's file, not what is generated. */
const imageOutputFlags = ['format', 'delay', 'columns'] as const;

/** `sample` for any model: the library generates by what the family makes; this writes the files. */
async function sampleToFiles(model: LoadedModel, dir: string, flags: SampleFlags, self: Command): Promise<string> {
  const modality = getFamily(model.family).generates;
  const quiet = Boolean(self.optsWithGlobals().quiet);
  const typed = (name: string) => self.getOptionValueSource(name) === 'cli';
  if (modality !== 'images') {
    const output = imageOutputFlags.find(typed);
    if (output) throw new GenloomError('BAD_ARGUMENT', `--${output} is for image grids; ${dir} is a ${model.family} model`);
  }
  const given: Record<string, unknown> = { seed: flags.seed };
  for (const name of requestFlags) if (flags[name] !== undefined) given[name] = flags[name];
  if (modality === 'music') {
    if (flags.primer !== undefined) given['primer'] = readPrimer(flags.primer);
    const n = flags.n ?? 1;
    const written = composeToFiles(model, dir, { ...(given as unknown as MusicRequest), n }, flags.out, quiet);
    return `wrote ${written.map((path) => `${path} (+ .wav, .png)`).join(', ')}`;
  }
  if (modality === 'clips') return sampleClips(model, dir, { ...(given as unknown as ClipRequest), n: flags.n ?? 4 }, flags.out, quiet);
  if (modality === 'shapes') return sampleShapes(model, dir, { ...(given as unknown as ShapeRequest), n: flags.n ?? 8 }, flags.out, quiet);
  if (modality !== 'images') throw new GenloomError('UNSUPPORTED', `${dir} is a ${model.family} model, which does not sample images${model.text ? ': use genloom generate' : ''}`);
  if (flags.trajectory && flags.format === 'files') throw new GenloomError('BAD_ARGUMENT', '--trajectory writes a GIF and a strip; it does not combine with --format files');
  if (flags.trajectory && !/\.gif$/i.test(flags.out)) throw new GenloomError('BAD_ARGUMENT', `with --trajectory, --out names a GIF (got ${flags.out})`);
  const count = flags.n ?? 64;
  const recorder = flags.trajectory ? new TrajectoryRecorder() : undefined;
  const progress = new LazyProgress('sample', quiet);
  const result = generateImages(model, { ...(given as unknown as ImageRequest), n: count }, { name: dir, onStep: recorder?.onStep, onProgress: progress.update });
  progress.stop();
  for (const note of result.notes ?? []) process.stderr.write(`${note}\n`);
  if (recorder) {
    const stripPath = recorder.write(flags.out, flags.delay);
    return `wrote the denoising of ${count} sample${count > 1 ? 's' : ''} (${recorder.frames.length} frames) to ${flags.out} and ${stripPath}`;
  }
  if (flags.format === 'files') {
    makeDirectories(flags.out);
    // A folder of samples is one set: an earlier, larger set's extra files would mix in.
    for (const name of readdirSync(flags.out)) if (/^sample-\d{3,}\.png$/.test(name)) unlinkSync(join(flags.out, name));
    const scale = displayScale(result.images[0]!);
    result.images.forEach((image, i) => writePng(join(flags.out, `sample-${String(i).padStart(3, '0')}.png`), scaleUp(image, scale)));
    return `wrote ${count} samples to ${flags.out}/sample-000.png …`;
  }
  writeImagesGrid(flags.out, result.images, flags.columns ?? result.columns);
  return `wrote ${count} samples to ${flags.out}`;
}

/** Reads latents from JSON: [[…], …], […], or `encode --json` output ({ latents: [[…]] }). */
export function readLatentFile(path: string, latentDim: number): Float32Array[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new GenloomError(code ? 'NOT_FOUND' : 'CORRUPT_FILE', code ? `cannot read ${path} (${code})` : `${path} is not valid JSON`);
  }
  let rows: unknown = parsed;
  if (rows && typeof rows === 'object' && !Array.isArray(rows) && 'latents' in rows) rows = (rows as { latents: unknown }).latents;
  if (Array.isArray(rows) && rows.every((value) => typeof value === 'number')) rows = [rows];
  if (!Array.isArray(rows) || rows.length === 0 || !rows.every((row) => Array.isArray(row) && row.every((value) => typeof value === 'number' && Number.isFinite(value)))) {
    throw new GenloomError('CORRUPT_FILE', `${path} must hold a list of latent vectors (arrays of numbers) or encode --json output`);
  }
  const bad = (rows as number[][]).findIndex((row) => row.length !== latentDim);
  if (bad >= 0) throw new GenloomError('SHAPE_MISMATCH', `${path}: latent ${bad} has ${(rows as number[][])[bad]!.length} numbers but the model's latent space has ${latentDim}`);
  if (rows.length > limits.maxImages) throw new GenloomError('BAD_ARGUMENT', `${path} has ${rows.length} latents; decode at most ${limits.maxImages} at once`);
  return (rows as number[][]).map((row) => Float32Array.from(row));
}

export function decodeCommand(): Command {
  return new Command('decode')
    .description('decode latent vectors (JSON) into images')
    .argument('<model>', 'model directory')
    .requiredOption('--z-file <file.json>', 'latents: [[z1…], …], or the output of encode --json')
    .requiredOption('--out <file.png>', 'PNG (a grid when there are several latents)')
    .action(async (dir: string, flags: { zFile: string; out: string }, self: Command) => {
      const model = await openModel(dir, self);
      const latent = requireLatent(model, dir);
      const rows = readLatentFile(flags.zFile, latent.latentDim);
      writeImageGrid(flags.out, decodeRows(latent, rows));
      model.dispose();
      process.stdout.write(`decoded ${rows.length} latent${rows.length > 1 ? 's' : ''} to ${flags.out}\n`);
    });
}

interface InterpolateFlags {
  from?: string;
  to?: string;
  seedFrom?: number;
  seedTo?: number;
  frames: number;
  method: InterpolationMethod;
  out: string;
  delay: number;
  invert?: boolean;
  label?: string;
  promptFrom?: string;
  promptTo?: string;
  sampler?: string;
  steps?: number;
  guidance?: number;
}

/** `interpolate --prompt-from A --prompt-to B`: the walk between two prompts as a GIF and a strip. */
function interpolatePromptsToFiles(model: LoadedModel, dir: string, flags: InterpolateFlags, quiet: boolean): string {
  const text = model.textConditioning;
  if (!text) throw new GenloomError('BAD_ARGUMENT', `${dir} has no text conditioning, so it cannot walk between prompts (--prompt-from/--prompt-to are for text-to-image models)`);
  if (flags.promptFrom === undefined || flags.promptTo === undefined) throw new GenloomError('BAD_ARGUMENT', 'give both --prompt-from and --prompt-to');
  if (flags.from !== undefined || flags.to !== undefined || flags.label !== undefined) throw new GenloomError('BAD_ARGUMENT', '--prompt-from/--prompt-to walk between prompts; they do not combine with --from, --to or --label');
  for (const prompt of [flags.promptFrom, flags.promptTo]) {
    if (text.tokenCount(prompt) > text.contextTokens) process.stderr.write(`note: "${prompt.slice(0, 40)}" is longer than the ${text.contextTokens} tokens the text encoder reads; the rest is cut\n`);
  }
  const progress = new LazyProgress('denoise', quiet);
  const sampling = getFamily(model.family).sampling!;
  const defaultSteps = sampling.defaultSteps[flags.sampler ?? sampling.defaultSampler];
  const total = flags.steps ?? (typeof defaultSteps === 'number' ? defaultSteps : Number(model.manifest.config['timesteps']));
  const batch = text.interpolatePrompts(flags.promptFrom, flags.promptTo, flags.frames, { from: generationRandom(flags.seedFrom ?? 0, 'sample'), to: generationRandom(flags.seedTo ?? flags.seedFrom ?? 0, 'sample') }, {
    sampler: flags.sampler,
    steps: flags.steps,
    guidance: flags.guidance,
    onStep: (index) => progress.update(index + 1, total),
  });
  progress.stop();
  const frames = tensorToImages(batch);
  batch.dispose();
  writeGif(flags.out, frames, { delayMs: flags.delay, scale: displayScale(frames[0]!) * 2 });
  const stripPath = flags.out.replace(/\.gif$/i, '') + '.png';
  writePng(stripPath, scaleUp(imageStrip(frames), displayScale(frames[0]!)));
  return `wrote ${flags.frames} frames from "${flags.promptFrom}" to "${flags.promptTo}" to ${flags.out} and ${stripPath}`;
}

export function interpolateCommand(): Command {
  const command = new Command('interpolate')
    .description('walk the latent space between two images, meshes (shape models) or seeds: an animated GIF plus a PNG strip')
    .argument('<model>', 'model directory')
    .option('--from <file>', 'start image (PNG/JPEG); shape models: a mesh (OBJ/STL/PLY)')
    .option('--to <file>', 'end image or mesh')
    .option('--seed-from <n>', 'start at the latent drawn from this seed (instead of --from)', parseInteger(0))
    .option('--seed-to <n>', 'end at the latent drawn from this seed', parseInteger(0))
    .option('--frames <n>', 'frames from start to end inclusive', parseInteger(2, limits.maxFrames), 16)
    .option('--method <kind>', 'spherical (slerp) or linear', parseChoice(['spherical', 'linear'] as const), 'spherical')
    .option('--delay <ms>', 'GIF frame delay', parseInteger(10, 10_000), 100)
    .option('--invert', 'invert the images first (dark-on-light drawings for MNIST-style models)')
    .option('--label <label>', 'conditional models: keep this label throughout (default: each seed draws its own and the walk morphs between them)')
    .option('--prompt-from <text>', 'text-to-image models: the prompt of the first frame (with --prompt-to; the noise slerps from --seed-from to --seed-to, default both 0)')
    .option('--prompt-to <text>', 'text-to-image models: the prompt of the last frame');
  return addSamplingOptions(command, 'text-to-image: ')
    .requiredOption('--out <file.gif>', 'the GIF; the strip goes beside it as .png')
    .action(async (dir: string, flags: InterpolateFlags, self: Command) => {
      const model = await openModel(dir, self);
      if (flags.promptFrom !== undefined || flags.promptTo !== undefined) {
        try {
          process.stdout.write(`${interpolatePromptsToFiles(model, dir, flags, Boolean(self.optsWithGlobals().quiet))}\n`);
        } finally {
          model.dispose();
        }
        return;
      }
      if (model.shape) {
        try {
          if (flags.invert) throw new GenloomError('BAD_ARGUMENT', '--invert is for images; a shape model interpolates between meshes');
          process.stdout.write(`${interpolateShapes(model, model.shape, dir, flags)}\n`);
        } finally {
          model.dispose();
        }
        return;
      }
      const latent = requireLatent(model, dir);
      const classes = latent.conditionDim ?? 0;
      const fixedLabel = flags.label === undefined ? undefined : resolveModelLabel(model, dir, flags.label);
      // Conditional models: a one-hot label per end, mixed along the walk like the latents.
      const endLabel = (seed: number | undefined) => {
        const label = fixedLabel ?? generationRandom(seed ?? 0, 'label').integer(classes);
        return Float32Array.from({ length: classes }, (_, i) => (i === label ? 1 : 0));
      };
      const endpoint = (image: string | undefined, seed: number | undefined, which: string): Float32Array => {
        if (image !== undefined) {
          const tensor = readImagesForModel([image], requireImageShape(model, dir), flags.invert, dir);
          const [row] = encodeMeans(latent, tensor);
          tensor.dispose();
          return row!;
        }
        if (seed !== undefined) return latentsForSeed(seed, 1, latent.latentDim)[0]!;
        throw new GenloomError('BAD_ARGUMENT', `give --${which} <image> or --seed-${which} <n>`);
      };
      const start = endpoint(flags.from, flags.seedFrom, 'from');
      const end = endpoint(flags.to, flags.seedTo, 'to');
      const rows = interpolate(start, end, flags.frames, flags.method);
      let batch: tf.Tensor4D;
      if (classes > 0) {
        const conditions = interpolate(endLabel(flags.seedFrom), endLabel(flags.seedTo), flags.frames, 'linear');
        batch = decodeRows(latent, rows, conditions);
      } else {
        batch = decodeRows(latent, rows);
      }
      const frames = tensorToImages(batch);
      batch.dispose();
      model.dispose();
      const scale = displayScale(frames[0]!) * 2;
      writeGif(flags.out, frames, { delayMs: flags.delay, scale });
      const stripPath = flags.out.replace(/\.gif$/i, '') + '.png';
      writePng(stripPath, scaleUp(imageStrip(frames), displayScale(frames[0]!)));
      process.stdout.write(`wrote ${flags.frames} frames to ${flags.out} and ${stripPath}\n`);
    });
}
