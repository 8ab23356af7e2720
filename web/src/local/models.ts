/**
 * In-browser models: a model built from the bytes of its files by the same builders `loadModel`
 * uses (src/models/builders.ts: no Node APIs), then sampled through the family-neutral LoadedModel
 * exactly as the server samples it. This module only adapts that model to the worker's requests;
 * it runs in a browser and, for the parity tests, in Node.
 *
 * Seeds follow the server and the CLI: images are drawn from `fromSeed(seed).fork('sample')`, text
 * from `fromSeed(seed)`, and every random number is made in JS (src/core/random.ts), so one seed
 * gives the same latents, noise and tokens on every backend; only float rounding differs.
 */
import type * as tf from '../../../src/core/tf.ts';
import { GenloomError } from '../../../src/core/errors.ts';
import { fromSeed, type Random } from '../../../src/core/random.ts';
import { labelFromPrompt, promptVocabulary } from '../../../src/data/prompts.ts';
import { builderFor, buildModelFromBytes, type ModelFileBytes } from '../../../src/models/builders.ts';
import type { LoadedModel } from '../../../src/models/family.ts';
import type { TokenSamplingOptions } from '../../../src/sampling/token-sampling.ts';
import type { ModelDescription } from './protocol.ts';

export type ModelBytes = ModelFileBytes;

/** The random stream an image request with this seed draws from (the server's and the CLI's). */
export function imageRandom(seed: number): Random {
  return fromSeed(seed).fork('sample');
}

/** The random stream a text request with this seed draws from (the server's and the CLI's). */
export function textRandom(seed: number): Random {
  return fromSeed(seed);
}

export interface ImageRequest {
  seed: number;
  count: number;
  /** Label index for every image (conditional models); undefined draws one per image from the seed. */
  label?: number;
  /** Text-to-image models: the text every image is drawn for ("" or absent: unconditional), and what guidance steers away from. */
  prompt?: string;
  negativePrompt?: string;
  /** GAN: ψ in (0, 1]. */
  truncation?: number;
  /** Families with samplers (diffusion): which, its steps, classifier-free guidance. */
  sampler?: string;
  steps?: number;
  guidance?: number;
  /** Every denoising step, with x_t and the x0 estimate as images in [0, 1] (tensors freed after the call). */
  onStep?(index: number, t: number, x: tf.Tensor4D, x0: tf.Tensor4D): void;
}

export interface TextRequest extends Partial<TokenSamplingOptions> {
  seed: number;
  prompt: string;
  maxTokens: number;
  /** Receives each piece of text as it is made. */
  onText?(text: string): void;
  /** Awaited between tokens so the page can repaint and a stop is seen; the browser's yield. */
  yieldEvery?: () => Promise<void>;
  /** Stops early (the text so far is the result). */
  signal?: AbortSignal;
}

export interface TextResult {
  text: string;
  tokens: number[];
  seconds: number;
  stopped: boolean;
}

/** A model built in the page: what it offers (for the controls) and the two requests it answers. */
export interface BrowserModel {
  model: LoadedModel;
  description: ModelDescription;
  /** The label a prompt like "a handwritten seven" names (conditional image models; throws a GenloomError otherwise). */
  labelFromPrompt?(prompt: string): number;
  /** Images [count, H, W, C] in [0, 1]; the caller disposes. */
  sample(request: ImageRequest): tf.Tensor4D;
  generate(request: TextRequest): Promise<TextResult>;
  dispose(): void;
}

/**
 * Builds a model from its files' bytes (checked as `loadModel` checks a model folder) and wraps it
 * for the worker.
 *
 * @example
 * const model = buildBrowserModel({ config: await fetchFile('config.json'), weights: await fetchFile('model.safetensors') }, 'vae-mnist');
 * const images = model.sample({ seed: 1, count: 16 });
 */
export function buildBrowserModel(files: ModelBytes, name = 'model'): BrowserModel {
  const model = buildModelFromBytes(files, name);
  let description: ModelDescription;
  try {
    description = describe(model);
  } catch (error) {
    model.dispose();
    throw error;
  }
  const vocabulary = promptVocabularyOf(model);
  return {
    model,
    description,
    ...(vocabulary ? { labelFromPrompt: (prompt: string) => labelFromPrompt(prompt, vocabulary) } : {}),
    sample({ seed, count, label, onStep, prompt, negativePrompt, ...options }) {
      if (!model.sampleImages) throw new GenloomError('UNSUPPORTED', `${name} is a ${model.family} model; it makes no images`);
      const labels = label === undefined ? undefined : new Int32Array(count).fill(label);
      // As generateImages does on the server: one prompt per image, the same text for all.
      const text = model.textConditioning ? { prompts: new Array<string>(count).fill(prompt ?? ''), ...(negativePrompt !== undefined ? { negativePrompt } : {}) } : {};
      return model.sampleImages(count, imageRandom(seed), { ...options, ...text, ...(labels ? { labels } : {}), ...(onStep ? { onStep } : {}) });
    },
    async generate({ seed, prompt, maxTokens, onText, yieldEvery, signal, ...sampling }) {
      if (!model.text) throw new GenloomError('UNSUPPORTED', `${name} is a ${model.family} model; it makes no text`);
      const result = await model.text.generateAsync(prompt, {
        maxTokens,
        stop: [],
        random: textRandom(seed),
        temperature: sampling.temperature ?? 1,
        topK: sampling.topK ?? 0,
        topP: sampling.topP ?? 1,
        repetitionPenalty: sampling.repetitionPenalty ?? 1,
        ...(onText ? { onText } : {}),
        ...(signal ? { signal } : {}),
      }, yieldEvery);
      return { text: result.text, tokens: result.tokens, seconds: result.seconds, stopped: result.stoppedBy === 'aborted' };
    },
    dispose: () => model.dispose(),
  };
}

/** What the page needs to offer a model's controls, read from the model and its family's builder declaration. */
function describe(model: LoadedModel): ModelDescription {
  if (model.text) return { kind: 'text', family: model.family, context: model.text.context, vocabularySize: model.text.tokenizer.vocabularySize };
  if (!model.sampleImages || !model.imageShape) throw new GenloomError('UNSUPPORTED', `${model.family} models make neither images nor text; in-browser mode has no page for them`);
  const conditional = Boolean(model.conditional);
  const sampling = builderFor(model.family).sampling;
  // As the server describes a model: "all" steps are every training timestep.
  const stepsOf = (steps: number | 'all' | undefined) => (steps === 'all' || steps === undefined ? Number(model.manifest.config['timesteps']) : steps);
  return {
    kind: 'images',
    family: model.family,
    imageShape: model.imageShape,
    ...(model.labelNames ? { labelNames: model.labelNames } : {}),
    conditional,
    ...(sampling
      ? {
          samplers: sampling.samplers.map((sampler) => ({ name: sampler, defaultSteps: stepsOf(sampling.defaultSteps[sampler]) })),
          defaultSampler: sampling.defaultSampler,
          defaultGuidance: conditional || model.textConditioning ? sampling.defaultGuidance : 1,
        }
      : {}),
    prompts: promptVocabularyOf(model) !== undefined || model.textConditioning !== undefined,
    ...(model.textConditioning ? { textConditioning: { contextTokens: model.textConditioning.contextTokens } } : {}),
  };
}

/** A conditional image model reads prompts against its dataset's words (as on the server). */
function promptVocabularyOf(model: LoadedModel) {
  const dataset = model.manifest.training['dataset'];
  if (!model.conditional || !model.sampleImages || !model.labelNames || typeof dataset !== 'string') return undefined;
  return promptVocabulary(dataset, model.labelNames);
}
