/**
 * A denoising diffusion model (Ho et al. 2020): the U-Net learns to predict the noise (or v) that
 * the forward process added, at a random step t; sampling runs one of the samplers from pure noise,
 * with classifier-free guidance (Ho & Salimans 2022) for conditional models:
 *
 *   prediction = uncond + w·(cond − uncond)     (w = 1: plain conditional; w = 0: unconditional)
 *
 * Latent diffusion (Rombach et al. 2022): with an autoencoder, the U-Net denoises its latent
 * (multiplied by latentScale) and images are the decoder's output; with a text encoder, the
 * condition is a free-text prompt (the empty prompt is "none", and a negative prompt takes its
 * place in the guidance formula). Both are frozen parts of the model, checkpointed with it.
 */
import * as tf from '../../core/tf.ts';
import { GenloomError } from '../../core/errors.ts';
import type { Params } from '../../core/params.ts';
import type { Random } from '../../core/random.ts';
import { updateAverage } from '../../train/ema.ts';
import type { DiffusionConfig } from './config.ts';
import { ddim, ddpm } from '../../schedulers/ddim.ts';
import { dpmSolver2m } from '../../schedulers/dpm-solver.ts';
import { timesteps, type Sampler } from '../../schedulers/sampler.ts';
import { alphaBarAt, makeSchedule, type NoiseSchedule } from '../../schedulers/noise-schedule.ts';
import { UNet } from './unet.ts';
import type { SamplingDeclaration } from '../family.ts';
import { denoisedShape } from './config.ts';
import { Autoencoder } from '../autoencoder/autoencoder.ts';
import { parseAutoencoderConfig } from '../autoencoder/config.ts';
import { ClipTextEncoder } from '../clip/text-encoder.ts';
import { parseClipConfig } from '../clip/config.ts';
import type { TextContext } from '../../layers/cross-attention.ts';
import type { Tokenizer } from '../../text/tokenizer.ts';
import { interpolate } from '../../latent/latent.ts';

/**
 * A training batch: images in [0, 1] (pixel models) or latents already scaled (latent models, as
 * `latents`), with labels or the captions' text context (the empty caption where dropped).
 */
export type DiffusionBatch = { images?: tf.Tensor4D; latents?: tf.Tensor4D; labels?: tf.Tensor1D; textStates?: tf.Tensor3D; textMask?: tf.Tensor2D; textPooled?: tf.Tensor2D };

/** A text context as batch tensors (the trainer's batches are flat maps of tensors). */
export function textBatch(text: TextContext): Pick<DiffusionBatch, 'textStates' | 'textMask' | 'textPooled'> {
  return { textStates: text.states, textMask: text.mask, textPooled: text.pooled };
}

export const samplers: Record<string, Sampler> = { ddpm, ddim, 'dpm-solver': dpmSolver2m };
export type SamplerName = keyof typeof samplers;

export interface DiffusionSampleOptions {
  labels?: ArrayLike<number>;
  sampler?: string;
  /** Network evaluations (default: all T for ddpm, 50 for ddim, 20 for dpm-solver). */
  steps?: number;
  /** Classifier-free guidance scale w (conditional models; default 4, see guidanceFor). */
  guidance?: number;
  eta?: number;
  /** Text-conditioned models: one prompt per image (absent or "": unconditional), and what guidance steers away from (default ""). */
  prompts?: string[];
  negativePrompt?: string;
  /** Instead of prompts: the text context itself (one row per image), e.g. a mix of two prompts'. */
  textContext?: TextContext;
  onStep?(index: number, t: number, x: tf.Tensor4D, x0: tf.Tensor4D): void;
}

/** Classifier-free guidance scale used when none is given (conditional models). */
export const defaultGuidance = 4;

/** What the family declares (and the studio and CLI offer): its samplers and what it uses when not told. */
export const diffusionSampling: SamplingDeclaration = {
  samplers: ['ddim', 'ddpm', 'dpm-solver'],
  defaultSampler: 'ddim',
  defaultSteps: { ddpm: 'all', ddim: 50, 'dpm-solver': 20 },
  defaultGuidance,
};

export class Diffusion {
  /** The network that training updates. */
  readonly unet: UNet;
  /** Its exponential moving average (parameters "ema.*"), which sampling uses. */
  readonly averaged: UNet;
  readonly schedule: NoiseSchedule;
  /** Every parameter, as checkpointed: the U-Net's, the average's, and the frozen parts'. */
  readonly params: Params;
  /** Latent models: the autoencoder (frozen; parameters "autoencoder.*"). */
  readonly autoencoder: Autoencoder | null;
  /** Text-conditioned models: the clip text encoder (frozen; parameters "text.*"), and its tokenizer (set by the loader). */
  readonly textEncoder: ClipTextEncoder | null;
  tokenizer: Tokenizer | null = null;
  /** The frozen parts' parameters, by their checkpoint names. */
  readonly frozen: Params = {};

  constructor(readonly config: DiffusionConfig, random: Random) {
    const [height, width, channels] = denoisedShape(config);
    const text = config.textEncoder ? parseClipConfig(config.textEncoder) : null;
    const unetConfig = { ...config, imageHeight: height, imageWidth: width, channels, ...(text ? { contextDim: text.textDim, pooledDim: text.embedDim } : {}) };
    this.unet = new UNet(unetConfig, random);
    this.averaged = new UNet(unetConfig, random.fork('average'));
    this.autoencoder = config.autoencoder ? new Autoencoder(parseAutoencoderConfig(config.autoencoder), random.fork('autoencoder')) : null;
    this.textEncoder = text ? ClipTextEncoder.standalone(text, random.fork('text-encoder')) : null;
    for (const [name, variable] of Object.entries(this.autoencoder?.params ?? {})) this.frozen[`autoencoder.${name}`] = variable;
    Object.assign(this.frozen, this.textEncoder?.params ?? {});
    this.params = { ...this.unet.params, ...this.frozen };
    for (const [name, variable] of Object.entries(this.averaged.params)) {
      variable.assign(this.unet.params[name]!);
      this.params[`ema.${name}`] = variable;
    }
    this.schedule = makeSchedule(config.schedule, config.timesteps);
  }

  /** After each training step: move the average toward the current weights. */
  afterStep(step: number): void {
    updateAverage(this.averaged.params, this.unet.params, step, this.config.emaDecay);
  }

  get conditional(): boolean {
    return this.config.classes > 0;
  }

  /** Whether the model follows free-text prompts. */
  get textConditioned(): boolean {
    return this.textEncoder !== null;
  }

  /** Prompts → the U-Net's text context (frozen encoder; no gradients flow into it). */
  textContext(prompts: string[]): TextContext {
    if (!this.textEncoder || !this.tokenizer) throw new GenloomError('BAD_ARGUMENT', 'this diffusion model has no text conditioning: it takes no {prompt} text (train with --text-encoder)');
    return this.textEncoder.context(this.tokenizer, prompts);
  }

  /** Images in [0, 1] → what the U-Net denoises: data-range pixels, or the autoencoder's scaled posterior means. */
  toDenoised(images: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => (this.autoencoder ? (tf.mul(this.autoencoder.encode(images).mean, this.config.latentScale!) as tf.Tensor4D) : toData(images)));
  }

  /** What the U-Net denoises → images in [0, 1] (through the decoder, for latent models). */
  toImages(data: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => (this.autoencoder ? this.autoencoder.decode(tf.div(data, this.config.latentScale!) as tf.Tensor4D) : toImages(data)));
  }

  /** Mean squared error of the prediction at uniformly drawn steps (the "simple" loss of Ho et al.). */
  loss(batch: DiffusionBatch, random: Random): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
    const data = batch.latents ?? toData(batch.images!);
    const count = data.shape[0];
    const shape = data.shape;
    const steps = Array.from({ length: count }, () => 1 + random.integer(this.config.timesteps));
    const alphaBars = steps.map((t) => alphaBarAt(this.schedule, t));
    const noise = tf.tensor4d(random.fork('noise').normalArray(data.size), shape);
    const a = tf.tensor4d(alphaBars.map(Math.sqrt), [count, 1, 1, 1]);
    const b = tf.tensor4d(alphaBars.map((value) => Math.sqrt(1 - value)), [count, 1, 1, 1]);
    const noisy = tf.add(tf.mul(data, a), tf.mul(noise, b)) as tf.Tensor4D;
    let labels: number[] | null = null;
    if (this.conditional) {
      const given = batch.labels!.dataSync();
      const dropout = random.fork('label-dropout');
      labels = Array.from(given, (label) => (dropout.uniform() < this.config.labelDropout ? this.config.classes : label));
    }
    const target = this.config.prediction === 'v' ? tf.sub(tf.mul(noise, a), tf.mul(data, b)) : noise;
    const total = tf.mean(tf.square(tf.sub(this.unet.apply(noisy, steps, labels, batch.textStates ? { states: batch.textStates, mask: batch.textMask!, pooled: batch.textPooled! } : undefined), target))) as tf.Scalar;
    return { total, parts: {} };
  }

  /** `count` images [B, H, W, C] in [0, 1] from seeded noise. */
  sample(count: number, random: Random, options: DiffusionSampleOptions = {}): tf.Tensor4D {
    const [height, width, channels] = denoisedShape(this.config);
    const start = tf.tensor4d(random.fork('start').normalArray(count * height * width * channels), [count, height, width, channels]);
    return this.denoiseFrom(start, this.config.timesteps, random, options, { unlabelled: 'random' });
  }

  /**
   * A walk between two prompts: `frames` images whose starting noise slerps from one seed's noise to
   * the other's and whose text states (and pooled embedding) are mixed linearly from `from`'s to
   * `to`'s; a token is attended to where either prompt has it.
   */
  interpolatePrompts(from: string, to: string, frames: number, noise: { from: Random; to: Random }, options: DiffusionSampleOptions = {}): tf.Tensor4D {
    if (!Number.isInteger(frames) || frames < 2) throw new GenloomError('BAD_ARGUMENT', `--frames must be an integer of at least 2 (got ${frames})`);
    const shape = denoisedShape(this.config);
    const size = shape[0] * shape[1] * shape[2];
    const path = interpolate(Float32Array.from(noise.from.fork('start').normalArray(size)), Float32Array.from(noise.to.fork('start').normalArray(size)), frames, 'spherical');
    const start = tf.tensor4d(Float32Array.from(path.flatMap((row) => Array.from(row))), [frames, ...shape]);
    const ends = this.textContext([from, to]);
    const textContext = tf.tidy(() => {
      const weights = tf.tensor1d(Array.from({ length: frames }, (_, i) => i / (frames - 1)));
      const mix = (both: tf.Tensor) => {
        const [a, b] = tf.split(both, 2, 0);
        const shaped = weights.reshape([frames, ...new Array<number>(both.rank - 1).fill(1)]);
        return tf.add(tf.mul(a!, tf.sub(1, shaped)), tf.mul(b!, shaped));
      };
      const [maskA, maskB] = tf.split(ends.mask, 2, 0);
      return { states: mix(ends.states) as tf.Tensor3D, pooled: mix(ends.pooled) as tf.Tensor2D, mask: tf.tile(tf.maximum(maskA!, maskB!), [frames, 1]) as tf.Tensor2D };
    });
    tf.dispose(ends as unknown as tf.TensorContainer);
    try {
      return this.denoiseFrom(start, this.config.timesteps, noise.from, { ...options, textContext }, { unlabelled: 'none' });
    } finally {
      tf.dispose(textContext as unknown as tf.TensorContainer);
    }
  }

  /**
   * SDEdit (Meng et al. 2022): noise the images [B, H, W, C] in [0, 1] to step strength·T, then
   * denoise (toward `labels`, for conditional models). Strength 0 returns the images; 1 ignores them.
   * The sampler takes strength·steps of its steps, so a weaker edit costs less.
   */
  img2img(images: tf.Tensor4D, strength: number, random: Random, options: DiffusionSampleOptions = {}): tf.Tensor4D {
    if (!(strength >= 0 && strength <= 1)) throw new GenloomError('BAD_ARGUMENT', `--strength must be in [0, 1] (got ${strength})`);
    this.checkImages(images);
    const total = this.config.timesteps;
    // --steps counts steps over the whole schedule (it is scaled by the strength below): check it as a full run would.
    if (options.steps !== undefined) timesteps({ schedule: this.schedule, steps: options.steps });
    this.checkSampling(options);
    // Any positive strength noises at least one step.
    const startStep = Math.ceil(strength * total);
    if (startStep === 0) return tf.clone(images);
    const steps = Math.max(1, Math.round(this.stepsFor(options) * strength));
    const start = tf.tidy(() => this.addNoise(this.toDenoised(images), startStep, random.fork('start')));
    return this.denoiseFrom(start, startStep, random, { ...options, steps: Math.min(steps, startStep) }, { unlabelled: 'none' });
  }

  /**
   * Inpainting by replacement (as in RePaint, without its resampling): sample from noise, and after
   * every step put the known pixels back, noised to that step, so the model fills the masked region
   * to agree with them. `mask` [B or 1, H, W, 1] is 1 where pixels are to be filled, 0 where kept.
   */
  inpaint(images: tf.Tensor4D, mask: tf.Tensor4D, random: Random, options: DiffusionSampleOptions = {}): tf.Tensor4D {
    this.checkImages(images);
    const [count, height, width] = images.shape;
    if (mask.shape[1] !== height || mask.shape[2] !== width) {
      throw new GenloomError('SHAPE_MISMATCH', `the mask is ${mask.shape[1]}×${mask.shape[2]} but the images are ${height}×${width}`);
    }
    if (mask.shape[3] !== 1 || (mask.shape[0] !== 1 && mask.shape[0] !== count)) {
      throw new GenloomError('SHAPE_MISMATCH', `the mask has shape [${mask.shape.join(', ')}]; it needs one channel and a batch of 1 or ${count}`);
    }
    // Latent models: a latent position is filled where any pixel it covers is.
    const factor = this.autoencoder ? images.shape[1] / denoisedShape(this.config)[0] : 1;
    const denoisedMask = factor > 1 ? tf.maxPool(mask, factor, factor, 'valid') : mask;
    const known = this.toDenoised(images);
    const keep = tf.sub(1, denoisedMask);
    const constrainRandom = random.fork('known');
    const constrain = (x: tf.Tensor4D, s: number): tf.Tensor4D =>
      tf.tidy(() => {
        const noisedKnown = s === 0 ? known : this.addNoise(known, s, constrainRandom.fork(s));
        return tf.add(tf.mul(noisedKnown, keep), tf.mul(x, denoisedMask)) as tf.Tensor4D;
      });
    const start = tf.tensor4d(random.fork('start').normalArray(known.size), known.shape);
    try {
      const filled = this.denoiseFrom(start, this.config.timesteps, random, options, { unlabelled: 'none', constrain });
      if (!this.autoencoder) return filled;
      // The decoder redraws every pixel: put the known ones back exactly.
      const kept = tf.tidy(() => tf.add(tf.mul(images, tf.sub(1, mask)), tf.mul(filled, mask)) as tf.Tensor4D);
      filled.dispose();
      return kept;
    } finally {
      tf.dispose([known, keep]);
      if (denoisedMask !== mask) denoisedMask.dispose();
    }
  }

  /** x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε for data-range images (the forward process, in closed form). */
  private addNoise(data: tf.Tensor4D, t: number, random: Random): tf.Tensor4D {
    const alphaBar = alphaBarAt(this.schedule, t);
    return tf.tidy(() => tf.add(tf.mul(data, Math.sqrt(alphaBar)), tf.mul(tf.tensor4d(random.normalArray(data.size), data.shape), Math.sqrt(1 - alphaBar))) as tf.Tensor4D);
  }

  private checkImages(images: tf.Tensor4D): void {
    const { imageHeight, imageWidth, channels } = this.config;
    const [, height, width, depth] = images.shape;
    if (height !== imageHeight || width !== imageWidth || depth !== channels) {
      throw new GenloomError('SHAPE_MISMATCH', `the model works on ${imageHeight}×${imageWidth}×${channels} images, not ${height}×${width}×${depth}`);
    }
  }

  /** The sampler a run uses: as given, else DDIM. */
  samplerFor(options: DiffusionSampleOptions): string {
    return options.sampler ?? diffusionSampling.defaultSampler;
  }

  /** The network evaluations a sampling run with these options makes. */
  stepsFor(options: DiffusionSampleOptions): number {
    const samplerName = this.samplerFor(options);
    const steps = diffusionSampling.defaultSteps[samplerName] ?? 'all';
    return options.steps ?? (steps === 'all' ? this.config.timesteps : steps);
  }

  /**
   * The guidance scale a run uses: as given, else 4 for conditional models (at 1, plain conditional
   * sampling, small models follow their label loosely; see the README's measurements) and 1 otherwise.
   */
  guidanceFor(options: DiffusionSampleOptions): number {
    return options.guidance ?? (this.conditional || this.textConditioned ? defaultGuidance : 1);
  }

  /** Rejects an unknown sampler, a guidance scale out of range, or guidance for a model without labels. */
  private checkSampling(options: DiffusionSampleOptions): void {
    const samplerName = this.samplerFor(options);
    if (!samplers[samplerName]) throw new GenloomError('BAD_ARGUMENT', `unknown sampler "${samplerName}": use ${Object.keys(samplers).join(', ')}`);
    const guidance = this.guidanceFor(options);
    if (!(guidance >= 0 && guidance <= 50)) throw new GenloomError('BAD_ARGUMENT', `guidance must be in 0..50 (got ${guidance})`);
    if (options.guidance !== undefined && options.guidance !== 1 && !this.conditional && !this.textConditioned) {
      throw new GenloomError('BAD_ARGUMENT', 'guidance needs a model trained with --conditional or --text-encoder (it mixes the conditional and unconditional predictions)');
    }
    if (!this.textConditioned && (options.prompts !== undefined || options.negativePrompt !== undefined)) {
      throw new GenloomError('BAD_ARGUMENT', `this diffusion model has no text conditioning: it takes no ${options.negativePrompt !== undefined ? '{negativePrompt}' : 'free-text {prompt}'} (train with --text-encoder)`);
    }
  }

  /**
   * Runs the chosen sampler from `start` (at step startStep; disposed) and returns images in [0, 1].
   * Without labels, a conditional model draws a random label per image (`unlabelled: 'random'`,
   * sampling) or denoises unconditionally ('none', editing: steer nowhere unless asked).
   */
  private denoiseFrom(
    start: tf.Tensor4D,
    startStep: number,
    random: Random,
    options: DiffusionSampleOptions,
    { unlabelled, constrain }: { unlabelled: 'random' | 'none'; constrain?: (x: tf.Tensor4D, s: number) => tf.Tensor4D },
  ): tf.Tensor4D {
    const count = start.shape[0];
    const contexts: TextContext[] = [];
    let textDenoise: ((x: tf.Tensor4D, steps: number[]) => tf.Tensor4D) | null = null;
    try {
      this.checkSampling(options);
      const sampler = samplers[this.samplerFor(options)]!;
      const guidance = this.guidanceFor(options);
      const labelRandom = random.fork('labels');
      const drawn = unlabelled === 'random' ? Array.from({ length: count }, () => labelRandom.integer(this.config.classes)) : null;
      const given = options.labels ? Array.from(options.labels) : drawn;
      const labels = this.conditional ? given : null;
      if (labels?.some((label) => !(label >= 0 && label < this.config.classes))) {
        throw new GenloomError('BAD_ARGUMENT', `labels must be in 0..${this.config.classes - 1}`);
      }
      const none = new Array<number>(count).fill(this.config.classes);
      if (options.prompts && options.prompts.length !== count) throw new GenloomError('BAD_ARGUMENT', `${options.prompts.length} prompts for ${count} images: give one per image`);
      if (this.textConditioned) {
        const cond = options.textContext ?? this.textContext(options.prompts ?? new Array<string>(count).fill(''));
        const uncond = guidance === 1 ? null : this.textContext(new Array<string>(count).fill(options.negativePrompt ?? ''));
        // The given context is the caller's to free; the ones made here are freed below.
        contexts.push(...(options.textContext ? [] : [cond]), ...(uncond ? [uncond] : []));
        textDenoise = (x, steps) => {
          const network = this.averaged;
          if (!uncond) return network.apply(x, steps, null, cond);
          const unconditional = network.apply(x, steps, null, uncond);
          if (guidance === 0) return unconditional;
          return tf.add(unconditional, tf.mul(tf.sub(network.apply(x, steps, null, cond), unconditional), guidance)) as tf.Tensor4D;
        };
      }
      const denoise = (x: tf.Tensor4D, t: number): tf.Tensor4D =>
        tf.tidy(() => {
          const steps = new Array<number>(count).fill(t);
          if (textDenoise) return textDenoise(x, steps);
          const network = this.averaged;
          if (!labels || guidance === 1) return network.apply(x, steps, labels);
          const unconditional = network.apply(x, steps, none);
          if (guidance === 0) return unconditional;
          const conditional = network.apply(x, steps, labels);
          return tf.add(unconditional, tf.mul(tf.sub(conditional, unconditional), guidance)) as tf.Tensor4D;
        });
      const sample = sampler({
        schedule: this.schedule,
        prediction: this.config.prediction,
        denoise,
        start,
        startStep,
        steps: this.stepsFor(options),
        random: random.fork('sampler'),
        eta: options.eta,
        // Pixels live in [−1, 1]. Scaled latents have unit variance: their x̂₀ is clipped at ±4 instead, which keeps
        // the first steps of the cosine schedule (where ᾱ ≈ 0 makes x̂₀ huge) from throwing the walk off.
        clip: this.autoencoder ? 2 : true,
        constrain,
        onStep: options.onStep,
      });
      const images = this.toImages(sample);
      sample.dispose();
      return images;
    } finally {
      start.dispose();
      tf.dispose(contexts as unknown as tf.TensorContainer);
    }
  }

  dispose(): void {
    this.unet.dispose();
    this.averaged.dispose();
    this.autoencoder?.dispose();
    this.textEncoder?.dispose();
  }
}

/** Images in [0, 1] → the model's data range [−1, 1]. */
function toData(images: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.sub(tf.mul(images, 2), 1) as tf.Tensor4D);
}

/** The model's data range → images in [0, 1] (clipped). */
export function toImages(data: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(tf.div(tf.add(data, 1), 2), 0, 1) as tf.Tensor4D);
}
