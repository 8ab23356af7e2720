/**
 * What the studio asks of a loaded model, one function per API operation. These run in the
 * generation worker (tensor work never blocks the server's event loop); they take validated
 * request bodies and return JSON-ready results, with images as base64 PNG.
 *
 * Long operations report through `emit` (diffusion steps, text as it is made, progress) and call
 * `checkCancelled` between steps, so a client that goes away stops the work.
 */
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import * as tf from '../core/tf.ts';
import { indicesWithLabel, gatherImages, takeImages } from '../data/index.ts';
import { encodeGif } from '../io/gif.ts';
import { decodeImageBytes, encodePng, imageGrid, type ImageData01 } from '../io/image.ts';
import { fitImageForModel, imagesToTensor, tensorToImages } from '../io/tensor-image.ts';
import { attributeVector, decodeRows, encodeMeans, interpolate } from '../latent/latent.ts';
import { datasetForModel, encodeDataset } from '../latent/dataset-latents.ts';
import { encodeWav, renderNotes } from '../music/audio.ts';
import { encodeMidi } from '../music/midi.ts';
import { pianoRollImage } from '../music/piano-roll.ts';
import type { LatentModel, LoadedModel } from '../models/family.ts';
import { defaultTokenSampling, validateTokenSampling } from '../sampling/token-sampling.ts';
import { resolveCondition, resolveModelLabel } from '../cli/labels.ts';
import { resolveStyle } from '../cli/music.ts';
import { PCA } from 'ml-pca';
import { generateClips, generateShapes } from './clip-shape-operations.ts';

export interface OperationContext {
  /** The model's name in the studio, for messages. */
  name: string;
  emit(event: string, data: unknown): void;
  /** Throws when the client has gone; called between steps. */
  checkCancelled(): void;
}

const png = (image: ImageData01) => encodePng(image).toString('base64');

function gridPng(images: ImageData01[]): string {
  return png(imageGrid(images, { columns: Math.ceil(Math.sqrt(images.length)) }));
}

export interface ImageRequest {
  seed: number;
  n: number;
  label?: string;
  prompt?: string;
  truncation?: number;
  sampler?: string;
  steps?: number;
  guidance?: number;
  trajectory?: boolean;
}

export interface TextRequest {
  seed: number;
  prompt?: string;
  maxTokens: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
}

export interface MusicRequest {
  seed: number;
  style?: string;
  bars: number;
  temperature?: number;
  topP?: number;
}

export type GenerateRequest = ImageRequest & TextRequest & MusicRequest;

function reject(model: LoadedModel, name: string, body: Record<string, unknown>, fields: string[], kind: string): void {
  const given = fields.find((field) => body[field] !== undefined);
  if (given) throw new GenloomError('BAD_ARGUMENT', `"${given}" is not for ${kind}: ${name} is a ${model.family} model`);
}

export function generate(model: LoadedModel, body: GenerateRequest, context: OperationContext): Record<string, unknown> | Promise<Record<string, unknown>> {
  const record = body as unknown as Record<string, unknown>;
  if (model.video || model.shape) {
    reject(model, context.name, record, ['truncation', 'sampler', 'guidance', 'trajectory', 'maxTokens', 'temperature', 'topK', 'topP', 'repetitionPenalty', 'style', 'bars', ...(model.video ? ['steps'] : [])], `${model.family} models`);
    return model.video ? generateClips(model, body, context) : generateShapes(model, body, context);
  }
  if (model.text) {
    reject(model, context.name, record, ['n', 'label', 'truncation', 'sampler', 'steps', 'guidance', 'trajectory', 'style', 'bars'], 'text models');
    return generateText(model, body, context);
  }
  if (model.music) {
    reject(model, context.name, record, ['n', 'label', 'prompt', 'truncation', 'sampler', 'steps', 'guidance', 'trajectory', 'maxTokens', 'topK'], 'music models');
    return generateMusic(model, body, context);
  }
  if (model.sampleImages) {
    reject(model, context.name, record, ['maxTokens', 'temperature', 'topK', 'topP', 'repetitionPenalty', 'style', 'bars'], 'image models');
    if (model.family !== 'gan' && body.truncation !== undefined) throw new GenloomError('BAD_ARGUMENT', `"truncation" is for GANs; ${context.name} is a ${model.family} model`);
    if (model.family !== 'diffusion') reject(model, context.name, record, ['sampler', 'steps', 'guidance', 'trajectory'], 'this family (diffusion only)');
    return generateImages(model, body, context);
  }
  throw new GenloomError('UNSUPPORTED', `${context.name} is a ${model.family} model, which does not generate`);
}

function generateImages(model: LoadedModel, body: ImageRequest, context: OperationContext): Record<string, unknown> {
  const label = resolveCondition(model, context.name, { label: body.label, prompt: model.family === 'diffusion' ? body.prompt : undefined });
  if (body.prompt !== undefined && model.family !== 'diffusion') throw new GenloomError('BAD_ARGUMENT', `"prompt" is for diffusion and text models; ${context.name} is a ${model.family} model (use "label")`);
  const trajectory: { step: number; t: number; png: string; x0Png: string }[] = [];
  // Without a trajectory, about ten previews stream as the picture forms.
  const previewEvery = body.trajectory ? 1 : Math.max(1, Math.round((body.steps ?? (body.sampler === 'ddpm' ? 1000 : 50)) / 10));
  const batch = model.sampleImages!(body.n, fromSeed(body.seed).fork('sample'), {
    labels: label === undefined ? undefined : new Int32Array(body.n).fill(label),
    truncation: body.truncation,
    sampler: body.sampler,
    steps: body.steps,
    guidance: body.guidance,
    onProgress: (done, total) => {
      context.checkCancelled();
      context.emit('progress', { done, total });
    },
    onStep: (index, t, x, x0) => {
      context.checkCancelled();
      if (index % previewEvery !== 0) return;
      const frame = { step: index, t, png: gridPng(tensorToImages(x)), x0Png: gridPng(tensorToImages(x0)) };
      if (body.trajectory) trajectory.push(frame);
      context.emit('step', frame);
    },
  });
  const images = tensorToImages(batch);
  batch.dispose();
  const labelName = label === undefined ? undefined : model.labelNames?.[label];
  return {
    kind: 'images',
    seed: body.seed,
    images: images.map((image, index) => ({ png: png(image), index, ...(labelName !== undefined ? { label: labelName } : {}) })),
    grid: gridPng(images),
    ...(body.trajectory ? { trajectory } : {}),
  };
}

function generateText(model: LoadedModel, body: TextRequest, context: OperationContext): Record<string, unknown> {
  const text = model.text!;
  const sampling = {
    ...defaultTokenSampling,
    ...(body.temperature !== undefined ? { temperature: body.temperature } : {}),
    ...(body.topK !== undefined ? { topK: body.topK } : {}),
    ...(body.topP !== undefined ? { topP: body.topP } : {}),
    ...(body.repetitionPenalty !== undefined ? { repetitionPenalty: body.repetitionPenalty } : {}),
  };
  validateTokenSampling(sampling);
  const prompt = body.prompt ?? '\n';
  text.tokenizer.encode(prompt); // a prompt the tokenizer cannot read fails before anything streams
  const result = text.generate(prompt, {
    ...sampling,
    maxTokens: body.maxTokens,
    stop: [],
    random: fromSeed(body.seed),
    onText: (chunk) => {
      context.checkCancelled();
      context.emit('token', { text: chunk });
    },
  });
  return {
    kind: 'text',
    seed: body.seed,
    prompt,
    text: result.text,
    tokens: result.tokens.length,
    droppedPromptTokens: result.droppedPromptTokens,
    tokensPerSecond: result.seconds > 0 ? result.tokens.length / result.seconds : 0,
  };
}

function generateMusic(model: LoadedModel, body: MusicRequest, context: OperationContext): Record<string, unknown> {
  const music = model.music!;
  const sampling = { ...defaultTokenSampling, temperature: body.temperature ?? 1, topP: body.topP ?? 1 };
  validateTokenSampling(sampling);
  const style = resolveStyle(music, context.name, body.style);
  const steps = body.bars * music.beatsPerBar * music.stepsPerQuarter;
  const [piece] = music.compose({
    ...sampling,
    styles: [style],
    steps,
    random: fromSeed(body.seed).fork('compose'),
    onProgress: (done) => {
      context.checkCancelled();
      context.emit('progress', { done, total: steps });
    },
  });
  const notes = piece!.notes;
  const secondsPerQuarter = 60 / music.bpm;
  const sampleRate = 22_050;
  return {
    kind: 'music',
    seed: body.seed,
    style: music.styles[style],
    bpm: music.bpm,
    beatsPerBar: music.beatsPerBar,
    midi: Buffer.from(encodeMidi({ notes, bpm: music.bpm, beatsPerBar: music.beatsPerBar })).toString('base64'),
    wav: encodeWav(renderNotes(notes, { bpm: music.bpm, sampleRate }), sampleRate).toString('base64'),
    pianoRoll: png(pianoRollImage(notes, { beatsPerBar: music.beatsPerBar })),
    // Note times are in quarter notes; the page plays seconds.
    notes: notes.map((note) => ({ pitch: note.pitch, start: note.start * secondsPerQuarter, duration: note.duration * secondsPerQuarter, velocity: note.velocity })),
  };
}

function requireLatent(model: LoadedModel, name: string): LatentModel {
  if (!model.latent) throw new GenloomError('UNSUPPORTED', `${name} is a ${model.family} model, which has no latent space`);
  return model.latent;
}

/** A one-hot row for conditional latent models; undefined for unconditional ones. */
function conditionRow(model: LoadedModel, latent: LatentModel, name: string, label: string | undefined, seed: number): Float32Array | undefined {
  const classes = latent.conditionDim ?? 0;
  if (classes === 0) {
    if (label !== undefined) resolveModelLabel(model, name, label); // the error says it takes no label
    return undefined;
  }
  const index = label === undefined ? fromSeed(seed).fork('label').integer(classes) : resolveModelLabel(model, name, label);
  return Float32Array.from({ length: classes }, (_, i) => (i === index ? 1 : 0));
}

function checkRows(rows: number[][], latentDim: number, name: string): Float32Array[] {
  const bad = rows.findIndex((row) => row.length !== latentDim);
  if (bad >= 0) throw new GenloomError('SHAPE_MISMATCH', `z[${bad}] has ${rows[bad]!.length} numbers but ${name}'s latent space has ${latentDim}`);
  return rows.map((row) => Float32Array.from(row));
}

function decodeToPngs(latent: LatentModel, rows: Float32Array[], condition: Float32Array | undefined): ImageData01[] {
  const batch = decodeRows(latent, rows, condition ? rows.map(() => condition) : undefined);
  const images = tensorToImages(batch);
  batch.dispose();
  return images;
}

export function decode(model: LoadedModel, body: { z: number[][]; label?: string }, context: OperationContext): Record<string, unknown> {
  const latent = requireLatent(model, context.name);
  const rows = checkRows(body.z, latent.latentDim, context.name);
  const images = decodeToPngs(latent, rows, conditionRow(model, latent, context.name, body.label, 0));
  return { images: images.map((image, index) => ({ png: png(image), index })) };
}

/** The latents `generate` draws for a seed (its first `n`), so sliders can start from a sample. */
export function latentsForSeed(model: LoadedModel, body: { seed: number; n: number; truncation?: number }, context: OperationContext): Record<string, unknown> {
  const latent = requireLatent(model, context.name);
  const random = fromSeed(body.seed).fork('sample');
  // The same draw sampleImages makes (VAE, GAN): [n, latentDim] normals (GAN: truncated) from the sample stream.
  const z = random.normalArray(body.n * latent.latentDim, ...(body.truncation !== undefined ? [body.truncation] : []));
  return { z: Array.from({ length: body.n }, (_, i) => Array.from(z.subarray(i * latent.latentDim, (i + 1) * latent.latentDim))) };
}

function imageTensor(model: LoadedModel, base64: string, context: OperationContext): tf.Tensor4D {
  if (!model.imageShape) throw new GenloomError('UNSUPPORTED', `${context.name} does not work on images`);
  const image = decodeImageBytes(Buffer.from(base64, 'base64'), 'the uploaded image');
  return imagesToTensor([fitImageForModel(image, model.imageShape)]);
}

export function encode(model: LoadedModel, body: { png: string }, context: OperationContext): Record<string, unknown> {
  const latent = requireLatent(model, context.name);
  if (!latent.encode) throw new GenloomError('UNSUPPORTED', `${context.name} is a ${model.family} model: it has no encoder (use seeds)`);
  const images = imageTensor(model, body.png, context);
  const { mean, logVariance } = latent.encode(images);
  const result = { mean: Array.from(mean.dataSync()), ...(logVariance ? { logVariance: Array.from(logVariance.dataSync()) } : {}) };
  tf.dispose([images, mean, logVariance]);
  return result;
}

export interface CompleteRequest {
  png: string;
  rows?: number;
  n: number;
  seed: number;
  label?: string;
}

/**
 * PixelCNN completion, as `genloom complete` does it: the input fitted to the model, its first
 * `rows` rows kept (thresholded at 0.5, as the model sees them) and the rest drawn pixel by pixel,
 * `n` times from the same seed stream as the CLI, so both give the same completions.
 */
export function complete(model: LoadedModel, body: CompleteRequest, context: OperationContext): Record<string, unknown> {
  if (!model.completion || !model.imageShape) throw new GenloomError('UNSUPPORTED', `${context.name} is a ${model.family} model; completion needs a PixelCNN`);
  const [height, width, channels] = model.imageShape;
  const rows = body.rows ?? Math.floor(height / 2);
  if (!Number.isInteger(rows) || rows < 1 || rows >= height) throw new GenloomError('BAD_ARGUMENT', `"rows" must be 1..${height - 1} for ${context.name}'s ${height}-row images; got ${rows}`);
  const label = resolveCondition(model, context.name, { label: body.label });
  const one = imageTensor(model, body.png, context);
  const given = tf.tile(one, [body.n, 1, 1, 1]) as tf.Tensor4D;
  const completed = model.completion.complete(given, rows, fromSeed(body.seed).fork('complete'), {
    labels: label === undefined ? undefined : new Int32Array(body.n).fill(label),
    onProgress: (done, total) => {
      context.checkCancelled();
      context.emit('progress', { done, total });
    },
  });
  // The input as the model kept it: the thresholded top rows over grey.
  const kept = one.greaterEqual(0.5).toFloat().slice([0, 0, 0, 0], [1, rows, width, channels]);
  const shown = tf.concat([kept, tf.fill([1, height - rows, width, channels], 0.5)], 1) as tf.Tensor4D;
  const [input] = tensorToImages(shown);
  const images = tensorToImages(completed);
  tf.dispose([one, given, completed, kept, shown]);
  const labelName = label === undefined ? undefined : model.labelNames?.[label];
  return {
    kind: 'images',
    seed: body.seed,
    rows,
    input: png(input!),
    images: images.map((image, index) => ({ png: png(image), index, ...(labelName !== undefined ? { label: labelName } : {}) })),
    grid: gridPng([input!, ...images]),
  };
}

type Endpoint = { seed: number } | { z: number[] } | { png: string };

export function interpolateLatents(
  model: LoadedModel,
  body: { from: Endpoint; to: Endpoint; frames: number; method: 'slerp' | 'lerp'; label?: string },
  context: OperationContext,
): Record<string, unknown> {
  const latent = requireLatent(model, context.name);
  const point = (end: Endpoint): Float32Array => {
    if ('z' in end) return checkRows([end.z], latent.latentDim, context.name)[0]!;
    if ('png' in end) {
      if (!latent.encode) throw new GenloomError('UNSUPPORTED', `${context.name} has no encoder: interpolate between seeds or latents`);
      const images = imageTensor(model, end.png, context);
      const [row] = encodeMeans(latent, images);
      images.dispose();
      return row!;
    }
    return fromSeed(end.seed).fork('sample').normalArray(latent.latentDim);
  };
  const rows = interpolate(point(body.from), point(body.to), body.frames, body.method === 'lerp' ? 'linear' : 'spherical');
  const seed = 'seed' in body.from ? body.from.seed : 0;
  const images = decodeToPngs(latent, rows, conditionRow(model, latent, context.name, body.label, seed));
  return {
    frames: images.map((image) => ({ png: png(image) })),
    gif: Buffer.from(encodeGif([...images, ...images.slice(1, -1).reverse()], { delayMs: 100, scale: 4 })).toString('base64'),
    z: rows.map((row) => Array.from(row)),
  };
}

/** A PCA map of the test images' latents; PCA so a clicked point maps back to a latent exactly. */
export function latentMap(model: LoadedModel, body: { dataset?: string; count: number }, context: OperationContext): Record<string, unknown> {
  const latent = requireLatent(model, context.name);
  if (!latent.encode) throw new GenloomError('UNSUPPORTED', `${context.name} has no encoder, so its latent space cannot be mapped from images`);
  const dataset = takeImages(datasetForModel(model, context.name, body.dataset, 'test'), body.count);
  context.checkCancelled();
  const rows = encodeDataset(latent, dataset);
  const dims = latent.latentDim;
  const mean = Array.from({ length: dims }, (_, d) => rows.reduce((sum, row) => sum + row[d]!, 0) / rows.length);
  let axes: [number[], number[]];
  if (dims <= 2) {
    axes = [Array.from({ length: dims }, (_, d) => (d === 0 ? 1 : 0)), Array.from({ length: dims }, (_, d) => (d === 1 ? 1 : 0))];
  } else {
    const pca = new PCA(rows.map((row) => Array.from(row)), { center: true, scale: false });
    const loadings = pca.getLoadings().to2DArray();
    axes = [loadings[0]!, loadings[1]!];
  }
  const points = rows.map((row, i) => {
    let x = 0;
    let y = 0;
    for (let d = 0; d < dims; d++) {
      x += (row[d]! - mean[d]!) * axes[0][d]!;
      y += (row[d]! - mean[d]!) * axes[1][d]!;
    }
    const label = dataset.labels ? dataset.labelNames?.[dataset.labels[i]!] ?? String(dataset.labels[i]) : undefined;
    return { x, y, ...(label !== undefined ? { label } : {}) };
  });
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  return {
    points,
    basis: { mean, axes },
    extent: { xMin: Math.min(...xs), xMax: Math.max(...xs), yMin: Math.min(...ys), yMax: Math.max(...ys) },
  };
}

/** One attribute vector per label: the mean latent of that label's images minus that of the rest. */
export function attributes(model: LoadedModel, body: { dataset?: string; perLabel: number }, context: OperationContext): Record<string, unknown> {
  const latent = requireLatent(model, context.name);
  if (!latent.encode) throw new GenloomError('UNSUPPORTED', `${context.name} has no encoder; attribute vectors come from encoded images`);
  const dataset = datasetForModel(model, context.name, body.dataset, 'train');
  if (!dataset.labels || !dataset.labelNames) throw new GenloomError('BAD_ARGUMENT', `${dataset.name} has no labels to make attribute vectors from`);
  const encodeIndices = (indices: number[]) => {
    const images = gatherImages(dataset, indices);
    const rows = encodeMeans(latent, images);
    images.dispose();
    return rows;
  };
  const result = dataset.labelNames.map((name, label) => {
    context.checkCancelled();
    const positive = encodeIndices(indicesWithLabel(dataset, label, true).slice(0, body.perLabel));
    const negative = encodeIndices(indicesWithLabel(dataset, label, false).slice(0, body.perLabel));
    return { name, vector: Array.from(attributeVector(positive, negative)) };
  });
  return { attributes: result };
}

export function attention(model: LoadedModel, body: { prompt: string }, context: OperationContext): Record<string, unknown> {
  if (!model.text) throw new GenloomError('UNSUPPORTED', `${context.name} is a ${model.family} model; attention maps are for text models`);
  const { tokens, layers } = model.text.attention(body.prompt);
  return { tokens, layers: layers.map((heads) => heads.map((matrix) => Array.from(matrix, (value) => Number(value.toFixed(4))))) };
}

/** What the studio needs to know about a loaded model to draw its pages. */
export function describe(model: LoadedModel): Record<string, unknown> {
  const latent = model.latent;
  return {
    ...(model.imageShape ? { imageShape: model.imageShape } : {}),
    ...(model.labelNames ? { labelNames: model.labelNames } : {}),
    conditional: Boolean(model.conditional),
    ...(latent ? { latentDim: latent.latentDim, conditionDim: latent.conditionDim ?? 0, encoder: Boolean(latent.encode) } : {}),
    ...(model.family === 'diffusion'
      ? {
          samplers: ['ddim', 'ddpm', 'dpm-solver'],
          defaultSampler: 'ddim',
          // DDIM's steps when none are given; DDPM walks all `timesteps`, DPM-Solver takes 20.
          defaultSteps: 50,
          timesteps: Number(model.manifest.config['timesteps']),
          prompts: Boolean(model.conditional),
        }
      : {}),
    ...(model.music ? { styles: model.music.styles, bpm: model.music.bpm, beatsPerBar: model.music.beatsPerBar } : {}),
    ...(model.text ? { context: model.text.context, vocabularySize: model.text.tokenizer.vocabularySize } : {}),
  };
}
