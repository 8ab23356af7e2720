/**
 * In-browser models: a starter model built from the bytes of its config.json, model.safetensors
 * (and tokenizer.json), then sampled exactly as the server samples it. Only the network, sampler and
 * format modules of src/ are imported here, never a family's index.ts (which reads files and
 * datasets with Node APIs), so this module runs in a browser and, for the parity tests, in Node.
 *
 * Seeds follow the server and the CLI: images are drawn from `fromSeed(seed).fork('sample')`, text
 * from `fromSeed(seed)`, and every random number is made in JS (src/core/random.ts), so one seed
 * gives the same latents, noise and tokens on every backend; only float rounding differs.
 */
import * as tf from '../../../src/core/tf.ts';
import { GenloomError } from '../../../src/core/errors.ts';
import { assignStored } from '../../../src/core/params.ts';
import { fromSeed, type Random } from '../../../src/core/random.ts';
import { labelFromPrompt, promptVocabulary } from '../../../src/data/prompts.ts';
import { checkWeightsStep, parseManifest, type CheckpointManifest } from '../../../src/io/checkpoint-format.ts';
import { decodeSafetensors, type StoredTensor } from '../../../src/io/safetensors-format.ts';
import { parseDiffusionConfig } from '../../../src/models/diffusion/config.ts';
import { Diffusion, samplers, toImages } from '../../../src/models/diffusion/diffusion.ts';
import { parseGanConfig } from '../../../src/models/gan/config.ts';
import { Gan } from '../../../src/models/gan/gan.ts';
import { parseTransformerConfig } from '../../../src/models/transformer/config.ts';
import { ContextWindow, maxGenerationTokens } from '../../../src/models/transformer/generate.ts';
import { Gpt } from '../../../src/models/transformer/gpt.ts';
import { drawToken, nextTokenProbabilities, validateTokenSampling, type TokenSamplingOptions } from '../../../src/sampling/token-sampling.ts';
import { parseVaeConfig } from '../../../src/models/vae/config.ts';
import { Vae } from '../../../src/models/vae/vae.ts';
import { CharTokenizer } from '../../../src/text/char-tokenizer.ts';
import { inBrowserFamilies } from './families.ts';

export { filesFor, inBrowserFamilies, isInBrowserFamily, type InBrowserFamily } from './families.ts';

/** The random stream an image request with this seed draws from (the server's and the CLI's). */
export function imageRandom(seed: number): Random {
  return fromSeed(seed).fork('sample');
}

export interface ImageRequest {
  seed: number;
  count: number;
  /** Label index for every image (conditional models); undefined draws one per image from the seed. */
  label?: number;
  /** GAN: ψ in (0, 1]. */
  truncation?: number;
  /** Diffusion: ddpm, ddim or dpm-solver; steps; classifier-free guidance. */
  sampler?: string;
  steps?: number;
  guidance?: number;
  /** Diffusion: every denoising step, with x_t and the x0 estimate as images in [0, 1] (tensors freed after the call). */
  onStep?(index: number, t: number, x: tf.Tensor4D, x0: tf.Tensor4D): void;
}

export interface ImageModel {
  kind: 'images';
  family: 'vae' | 'gan' | 'diffusion';
  manifest: CheckpointManifest;
  imageShape: [number, number, number];
  labelNames?: string[];
  conditional: boolean;
  /** Diffusion: the samplers and the default step count of each. */
  samplers?: { name: string; defaultSteps: number }[];
  defaultGuidance?: number;
  /** Diffusion: the label a prompt like "a handwritten seven" names (throws a GenloomError otherwise). */
  labelFromPrompt?(prompt: string): number;
  /** Images [count, H, W, C] in [0, 1]; the caller disposes. */
  sample(request: ImageRequest): tf.Tensor4D;
  dispose(): void;
}

export interface TextRequest extends Partial<TokenSamplingOptions> {
  seed: number;
  prompt: string;
  maxTokens: number;
  /** Receives each piece of text as it is made. */
  onText?(text: string): void;
  /** Called between tokens so the page can repaint; the browser's yield. */
  yieldEvery?: () => Promise<void>;
  /** Stops early (the text so far is the result). */
  signal?: AbortSignal;
}

export interface TextResult {
  text: string;
  tokens: number[];
  seconds: number;
}

export interface TextModel {
  kind: 'text';
  family: 'transformer';
  manifest: CheckpointManifest;
  context: number;
  characters: string[];
  generate(request: TextRequest): Promise<TextResult>;
  dispose(): void;
}

export type BrowserModel = ImageModel | TextModel;

export interface ModelBytes {
  config: ArrayBuffer | Uint8Array;
  weights: ArrayBuffer | Uint8Array;
  tokenizer?: ArrayBuffer | Uint8Array;
}

const utf8 = new TextDecoder();

function bytesOf(data: ArrayBuffer | Uint8Array): Uint8Array {
  return data instanceof Uint8Array ? data : new Uint8Array(data);
}

/**
 * Builds a model from its files' bytes, checking them as `loadModel` checks a model folder.
 *
 * @example
 * const model = buildBrowserModel({ config: await fetchFile('config.json'), weights: await fetchFile('model.safetensors') }, 'vae-mnist');
 * const images = (model as ImageModel).sample({ seed: 1, count: 16 });
 */
export function buildBrowserModel(files: ModelBytes, name = 'model'): BrowserModel {
  const manifest = parseManifest(utf8.decode(bytesOf(files.config)), `${name}/config.json`);
  const weightsPath = `${name}/model.safetensors`;
  const weights = decodeSafetensors(bytesOf(files.weights), weightsPath);
  checkWeightsStep(manifest, weights.metadata, weightsPath);
  switch (manifest.family) {
    case 'vae':
      return vaeModel(manifest, weights.tensors, weightsPath);
    case 'gan':
      return ganModel(manifest, weights.tensors, weightsPath);
    case 'diffusion':
      return diffusionModel(manifest, weights.tensors, weightsPath);
    case 'transformer': {
      if (!files.tokenizer) throw new GenloomError('NOT_FOUND', `${name} is a transformer: its tokenizer.json is needed too`);
      return transformerModel(manifest, weights.tensors, weightsPath, utf8.decode(bytesOf(files.tokenizer)), `${name}/tokenizer.json`);
    }
    default:
      throw new GenloomError('UNSUPPORTED', `${name} is a ${manifest.family} model; in-browser mode runs ${inBrowserFamilies.join(', ')} models (use the server's Generate tab)`);
  }
}

function labelNamesOf(manifest: CheckpointManifest): string[] | undefined {
  return manifest.training['labelNames'] as string[] | undefined;
}

function fillLabels(count: number, label: number | undefined): Int32Array | undefined {
  return label === undefined ? undefined : new Int32Array(count).fill(label);
}

function vaeModel(manifest: CheckpointManifest, tensors: Map<string, StoredTensor>, source: string): ImageModel {
  const config = parseVaeConfig(manifest.config);
  const vae = new Vae(config, fromSeed(0));
  try {
    assignStored(vae.params, tensors, source);
  } catch (error) {
    vae.dispose();
    throw error;
  }
  return {
    kind: 'images',
    family: 'vae',
    manifest,
    imageShape: [config.imageHeight, config.imageWidth, config.channels],
    labelNames: labelNamesOf(manifest),
    conditional: false,
    sample: ({ seed, count }) => vae.sample(count, imageRandom(seed)),
    dispose: () => vae.dispose(),
  };
}

function ganModel(manifest: CheckpointManifest, tensors: Map<string, StoredTensor>, source: string): ImageModel {
  const config = parseGanConfig(manifest.config);
  const gan = new Gan(config, fromSeed(0));
  try {
    assignStored(gan.params, tensors, source);
  } catch (error) {
    gan.dispose();
    throw error;
  }
  return {
    kind: 'images',
    family: 'gan',
    manifest,
    imageShape: [config.imageHeight, config.imageWidth, config.channels],
    labelNames: labelNamesOf(manifest),
    conditional: gan.conditional,
    sample({ seed, count, label, truncation = 1 }) {
      // As the GAN family's sampleImages without --reject.
      if (!(truncation > 0 && truncation <= 1)) throw new GenloomError('BAD_ARGUMENT', `truncation must be in (0, 1] (got ${truncation})`);
      const random = imageRandom(seed);
      const labels = gan.conditional ? gan.labels(count, random.fork('labels'), fillLabels(count, label)) : undefined;
      return gan.sample(count, random, { labels, truncation });
    },
    dispose: () => gan.dispose(),
  };
}

function diffusionModel(manifest: CheckpointManifest, tensors: Map<string, StoredTensor>, source: string): ImageModel {
  const config = parseDiffusionConfig(manifest.config);
  const model = new Diffusion(config, fromSeed(0));
  try {
    if (!tensors.has('in.weight') && tensors.has('ema.in.weight')) {
      // A shipped model keeps only the averaged weights that sampling uses (as the diffusion family's load()).
      const averaged = new Map([...tensors].map(([name, tensor]) => [name.replace(/^ema\./, ''), tensor]));
      assignStored(model.averaged.params, averaged, source);
      for (const [name, variable] of Object.entries(model.unet.params)) variable.assign(model.averaged.params[name]!);
    } else {
      assignStored(model.params, tensors, source);
    }
  } catch (error) {
    model.dispose();
    throw error;
  }
  const labelNames = labelNamesOf(manifest);
  const dataset = manifest.training['dataset'];
  const vocabulary = labelNames && typeof dataset === 'string' ? promptVocabulary(dataset, labelNames) : undefined;
  return {
    kind: 'images',
    family: 'diffusion',
    manifest,
    imageShape: [config.imageHeight, config.imageWidth, config.channels],
    labelNames,
    conditional: model.conditional,
    samplers: Object.keys(samplers).map((name) => ({ name, defaultSteps: model.stepsFor({ sampler: name }) })),
    defaultGuidance: model.guidanceFor({}),
    ...(vocabulary && model.conditional ? { labelFromPrompt: (prompt: string) => labelFromPrompt(prompt, vocabulary) } : {}),
    sample({ seed, count, label, sampler, steps, guidance, onStep }) {
      return model.sample(count, imageRandom(seed), {
        labels: fillLabels(count, label),
        sampler,
        steps,
        guidance,
        // As the diffusion family's sampleImages: the frames as images in [0, 1].
        onStep: onStep && ((index, t, x, x0) => tf.tidy(() => onStep(index, t, toImages(x), toImages(x0)))),
      });
    },
    dispose: () => model.dispose(),
  };
}

function transformerModel(manifest: CheckpointManifest, tensors: Map<string, StoredTensor>, source: string, tokenizerText: string, tokenizerSource: string): TextModel {
  const config = parseTransformerConfig(manifest.config);
  let json: unknown;
  try {
    json = JSON.parse(tokenizerText);
  } catch (error) {
    throw new GenloomError('CORRUPT_FILE', `${tokenizerSource} is not valid JSON (${(error as Error).message})`);
  }
  const kind = (json as { kind?: unknown } | null)?.kind;
  // Byte-level BPE tokenizers live in a module that also reads GPT-2 files from disk; the shipped
  // text model is character-level, which is what runs here.
  if (kind !== 'char') throw new GenloomError('UNSUPPORTED', `${tokenizerSource} is a ${String(kind)} tokenizer; in-browser mode runs character-level models only (use the server's Generate tab)`);
  const tokenizer = CharTokenizer.fromJson(json, tokenizerSource);
  if (tokenizer.vocabularySize !== config.vocabularySize) {
    throw new GenloomError('SHAPE_MISMATCH', `${tokenizerSource} has ${tokenizer.vocabularySize} tokens but the model was built for ${config.vocabularySize}`);
  }
  const gpt = new Gpt(config, fromSeed(0));
  try {
    assignStored(gpt.params, tensors, source);
  } catch (error) {
    gpt.dispose();
    throw error;
  }
  return {
    kind: 'text',
    family: 'transformer',
    manifest,
    context: config.context,
    characters: tokenizer.characters,
    generate: (request) => generateTextAsync(gpt, tokenizer, request),
    dispose: () => gpt.dispose(),
  };
}

/**
 * The token loop of src/models/transformer/generate.ts's generateText (same context window and KV
 * cache, same draws: token i from random.fork('token', i)), made async so the page can paint each
 * token: `yieldEvery` is awaited between tokens. No stop strings (the studio sends none).
 */
async function generateTextAsync(model: Gpt, tokenizer: CharTokenizer, request: TextRequest): Promise<TextResult> {
  const options: TokenSamplingOptions = {
    temperature: request.temperature ?? 1,
    topK: request.topK ?? 0,
    topP: request.topP ?? 1,
    repetitionPenalty: request.repetitionPenalty ?? 1,
  };
  validateTokenSampling(options);
  if (!Number.isInteger(request.maxTokens) || request.maxTokens < 1 || request.maxTokens > maxGenerationTokens) {
    throw new GenloomError('BAD_ARGUMENT', `max tokens must be a whole number from 1 to ${maxGenerationTokens}, got ${request.maxTokens}`);
  }
  const random = fromSeed(request.seed);
  // An empty prompt starts from a newline (a verse boundary), as on the server.
  const promptIds = tokenizer.encode(request.prompt.length > 0 ? request.prompt : '\n');
  const window = new ContextWindow(model, true);
  const started = performance.now();
  const tokens: number[] = [];
  let text = '';
  try {
    window.append(promptIds);
    const seen = new Set<number>(promptIds);
    for (let i = 0; i < request.maxTokens && !request.signal?.aborted; i++) {
      const logits = window.nextLogits();
      const token = drawToken(nextTokenProbabilities(logits, seen, options), random.fork('token', i));
      tokens.push(token);
      seen.add(token);
      window.append([token]);
      const piece = tokenizer.decode([token]);
      text += piece;
      request.onText?.(piece);
      if (request.yieldEvery) await request.yieldEvery();
    }
    return { text, tokens, seconds: (performance.now() - started) / 1000 };
  } finally {
    window.dispose();
  }
}
