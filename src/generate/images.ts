/**
 * Images from any image family (VAE, GAN, diffusion, PixelCNN): from a seed and, for conditional
 * models, a label or a prompt; PixelCNN also completes images from their top rows. Results are
 * plain images in [0, 1]; the shells write them as PNG files or base64.
 */
import { GenloomError } from '../core/errors.ts';
import * as tf from '../core/tf.ts';
import { tensorToImages } from '../io/tensor-image.ts';
import type { ImageData01 } from '../io/image.ts';
import type { LoadedModel, SampleOptions } from '../models/family.ts';
import { imageLabels, resolveCondition, textPrompts, type Condition } from './conditions.ts';
import { checkGenerationFields } from './fields.ts';
import { generationRandom } from './seeds.ts';

/** How generation reports as it goes; every callback may throw to cancel (the server's does when a client leaves). */
export interface GenerationOptions {
  /** The model in messages (its directory or studio name); default "the model". */
  name?: string;
  onProgress?(done: number, total: number): void;
  /** Diffusion: after each denoising step, x_t and the x̂_0 estimate as images in [0, 1] (not kept: copy them). */
  onStep?: SampleOptions['onStep'];
  /** Stops the work between steps with an AbortError. */
  signal?: AbortSignal;
}

export interface ImageRequest extends Condition {
  seed: number;
  n: number;
  /** GANs: truncation ψ in (0, 1]; discriminator rejection sampling. */
  truncation?: number;
  reject?: boolean;
  /** Diffusion: the sampler, its steps and the guidance scale (see the family's `sampling` declaration for defaults). */
  sampler?: string;
  steps?: number;
  guidance?: number;
  /** Diffusion: the caller records the denoising through onStep (the CLI's GIF, the studio's player). */
  trajectory?: boolean;
}

export interface GeneratedImages {
  images: ImageData01[];
  /** The label of each image (conditional models), as an index and a name. */
  labels?: Int32Array;
  labelNames?: string[];
  /** Every label in turn (`label: "all"`): a grid shows one column per label. */
  columns?: number;
  /** Text-to-image: the prompt each image was made for, and notes on how it was read (a long prompt is cut). */
  prompts?: string[];
  notes?: string[];
}

/** Wraps the callbacks so an aborted signal stops the work at the next report. */
export function withSignal(options: GenerationOptions): GenerationOptions {
  const { signal } = options;
  if (!signal) return options;
  const check = () => signal.throwIfAborted();
  return {
    ...options,
    onProgress: (done, total) => {
      check();
      options.onProgress?.(done, total);
    },
    onStep: (index, t, x, x0) => {
      check();
      options.onStep?.(index, t, x, x0);
    },
  };
}

/**
 * `n` images for `seed`: the same request gives the same pixels wherever it is made.
 *
 * @example
 * const model = loadModel('models/gan-mnist');
 * const { images } = generateImages(model, { seed: 3, n: 16, label: '7', truncation: 0.8 });
 * writePng('sevens.png', imageGrid(images, { columns: 4 }));
 */
export function generateImages(model: LoadedModel, request: ImageRequest, options: GenerationOptions = {}): GeneratedImages {
  const name = options.name ?? 'the model';
  checkGenerationFields(model, name, request);
  if (!model.sampleImages) throw new GenloomError('UNSUPPORTED', `${name} is a ${model.family} model, which does not make images`);
  if (request.truncation !== undefined && !(request.truncation > 0 && request.truncation <= 1)) {
    throw new GenloomError('BAD_ARGUMENT', `{truncation} must be in (0, 1] (got ${request.truncation})`);
  }
  const text = textPrompts(model, name, request, request.n);
  const labels = text ? undefined : imageLabels(model, name, request, request.n);
  const hooks = withSignal(options);
  options.signal?.throwIfAborted();
  const batch = model.sampleImages(request.n, generationRandom(request.seed, 'sample'), {
    labels,
    ...(text ? { prompts: text.prompts, ...(text.negativePrompt !== undefined ? { negativePrompt: text.negativePrompt } : {}) } : {}),
    truncation: request.truncation,
    reject: request.reject,
    sampler: request.sampler,
    steps: request.steps,
    guidance: request.guidance,
    onProgress: hooks.onProgress,
    onStep: options.onStep || options.signal ? hooks.onStep : undefined,
  });
  const images = tensorToImages(batch);
  batch.dispose();
  const everyLabel = request.label === 'all' && model.conditional && request.prompt === undefined;
  return {
    images,
    ...(labels ? { labels, labelNames: Array.from(labels, (label) => model.labelNames?.[label] ?? String(label)) } : {}),
    ...(everyLabel ? { columns: model.labelNames?.length ?? 0 } : {}),
    ...(text ? { prompts: text.prompts, notes: text.notes } : {}),
  };
}

export interface CompletionRequest extends Condition {
  /** The image whose top rows are kept, [1, H, W, C] in [0, 1], already fitted to the model. */
  image: tf.Tensor4D;
  /** Rows kept from the top (default: half). */
  rows?: number;
  n: number;
  seed: number;
}

export interface CompletedImages {
  /** The input as the model kept it: the thresholded top rows over grey. */
  input: ImageData01;
  images: ImageData01[];
  rows: number;
  labelName?: string;
}

/**
 * PixelCNN completion: the image's first `rows` rows kept (thresholded at 0.5, as the model sees
 * them) and the rest drawn pixel by pixel, `n` times from the seed's `complete` stream.
 */
export function completeImages(model: LoadedModel, request: CompletionRequest, options: GenerationOptions = {}): CompletedImages {
  const name = options.name ?? 'the model';
  if (!model.completion || !model.imageShape) throw new GenloomError('UNSUPPORTED', `${name} is a ${model.family} model; completion needs a PixelCNN (inpaint does this for diffusion models)`);
  const [height, width, channels] = model.imageShape;
  const rows = request.rows ?? Math.floor(height / 2);
  if (!Number.isInteger(rows) || rows < 1 || rows >= height) throw new GenloomError('BAD_ARGUMENT', `{rows} must be 1..${height - 1} for ${name}'s ${height}-row images; got ${rows}`);
  const label = resolveCondition(model, name, request);
  const hooks = withSignal(options);
  const given = tf.tile(request.image, [request.n, 1, 1, 1]) as tf.Tensor4D;
  let completed: tf.Tensor4D;
  try {
    completed = model.completion.complete(given, rows, generationRandom(request.seed, 'complete'), {
      labels: label === undefined ? undefined : new Int32Array(request.n).fill(label),
      onProgress: hooks.onProgress,
    });
  } finally {
    given.dispose();
  }
  const shown = tf.tidy(() => {
    const kept = request.image.greaterEqual(0.5).toFloat().slice([0, 0, 0, 0], [1, rows, width, channels]);
    return tf.concat([kept, tf.fill([1, height - rows, width, channels], 0.5)], 1) as tf.Tensor4D;
  });
  const [input] = tensorToImages(shown);
  const images = tensorToImages(completed);
  tf.dispose([shown, completed]);
  return { input: input!, images, rows, ...(label !== undefined ? { labelName: model.labelNames?.[label] ?? String(label) } : {}) };
}
