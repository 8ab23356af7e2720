/**
 * What the studio asks of a loaded model, one function per API operation. These run in the
 * generation worker (tensor work never blocks the server's event loop); they take validated
 * request bodies and return JSON-ready results, with images as base64 PNG.
 *
 * Long operations report through `emit` (diffusion steps, text as it is made, progress) and call
 * `checkCancelled` between steps, so a client that goes away stops the work.
 */
import { GenloomError } from '../core/errors.ts';
import { emojiAttributes } from '../data/emoji-attributes.ts';
import { loadEmoji } from '../data/emoji.ts';
import { emojiDatasetName } from '../data/index.ts';
import { requireContrastive, searchCorpus, searchImages } from '../embed/search.ts';
import { namedAttributeVector } from '../latent/named-attributes.ts';
import * as tf from '../core/tf.ts';
import { takeImages } from '../data/index.ts';
import { encodeGif } from '../io/gif.ts';
import { decodeImageBytes, encodePng, imageGrid, type ImageData01 } from '../io/image.ts';
import { fitImageForModel, imagesToTensor, tensorToImages } from '../io/tensor-image.ts';
import { decodeRows, encodeMeans, interpolate } from '../latent/latent.ts';
import { datasetForModel } from '../latent/dataset-latents.ts';
import { labelAttributeVectors, latentMap as mapOfLatents } from '../latent/latent-map.ts';
import type { Note } from '../music/midi.ts';
import type { LatentModel, LoadedModel } from '../models/family.ts';
import { getFamily } from '../models/registry.ts';
import {
  completeImages,
  composeMusic,
  defaultSteps,
  generateImages,
  generateText,
  generationFieldsOf,
  generationRandom,
  latentsForSeed as seededLatents,
  musicFiles,
  resolveModelLabel,
  type ClipRequest,
  type ImageRequest,
  type MusicRequest,
  type ShapeRequest,
  type TextRequest,
} from '../generate/index.ts';
import { generateClipsBody, generateShapesBody } from './clip-shape-operations.ts';
import { reporting, type OperationContext } from './operation-context.ts';

export type { OperationContext };

const png = (image: ImageData01) => encodePng(image).toString('base64');

function gridPng(images: ImageData01[]): string {
  return png(imageGrid(images, { columns: Math.ceil(Math.sqrt(images.length)) }));
}

/** The body of POST /api/models/:name/generate after validation: the fields of every modality (each model takes its own). */
export type GenerateRequest = { seed: number } & Partial<Omit<ImageRequest, 'seed'> & Omit<TextRequest, 'seed'> & Omit<MusicRequest, 'seed' | 'primer'>>;

export function generate(model: LoadedModel, body: GenerateRequest, context: OperationContext): Record<string, unknown> | Promise<Record<string, unknown>> {
  const modality = getFamily(model.family).generates;
  if (modality === 'images') return generateImagesBody(model, body as ImageRequest, context);
  if (modality === 'text') return generateTextBody(model, body as TextRequest, context);
  if (modality === 'music') return generateMusicBody(model, body as MusicRequest, context);
  if (modality === 'clips') return generateClipsBody(model, body as ClipRequest, context);
  if (modality === 'shapes') return generateShapesBody(model, body as ShapeRequest, context);
  throw new GenloomError('UNSUPPORTED', `${context.name} is a ${model.family} model, which does not generate`);
}

function generateImagesBody(model: LoadedModel, body: ImageRequest, context: OperationContext): Record<string, unknown> {
  const trajectory: { step: number; t: number; png: string; x0Png: string }[] = [];
  // Without a trajectory, about ten previews stream as the picture forms.
  const steps = body.steps ?? defaultSteps(model, body.sampler) ?? 50;
  const previewEvery = body.trajectory ? 1 : Math.max(1, Math.round(steps / 10));
  const result = generateImages(model, body, {
    ...reporting(context),
    onStep: (index, t, x, x0) => {
      context.checkCancelled();
      if (index % previewEvery !== 0) return;
      const frame = { step: index, t, png: gridPng(tensorToImages(x)), x0Png: gridPng(tensorToImages(x0)) };
      if (body.trajectory) trajectory.push(frame);
      context.emit('step', frame);
    },
  });
  return {
    kind: 'images',
    seed: body.seed,
    images: result.images.map((image, index) => ({ png: png(image), index, ...(result.labelNames ? { label: result.labelNames[index] } : {}) })),
    grid: gridPng(result.images),
    ...(body.trajectory ? { trajectory } : {}),
    ...(result.prompts ? { prompts: result.prompts, notes: result.notes ?? [] } : {}),
  };
}

function generateTextBody(model: LoadedModel, body: TextRequest, context: OperationContext): Record<string, unknown> {
  const result = generateText(model, body, {
    ...reporting(context),
    onText: (chunk) => {
      context.checkCancelled();
      context.emit('token', { text: chunk });
    },
  });
  return {
    kind: 'text',
    seed: body.seed,
    prompt: result.prompt,
    text: result.text,
    tokens: result.tokens.length,
    droppedPromptTokens: result.droppedPromptTokens,
    tokensPerSecond: result.tokensPerSecond,
  };
}

function generateMusicBody(model: LoadedModel, body: MusicRequest, context: OperationContext): Record<string, unknown> {
  const composed = composeMusic(model, body, reporting(context));
  const secondsPerQuarter = 60 / composed.bpm;
  const piece = (notes: Note[]) => {
    const files = musicFiles(notes, composed);
    return {
      midi: Buffer.from(files.midi).toString('base64'),
      wav: files.wav.toString('base64'),
      pianoRoll: png(files.pianoRoll),
      // Note times are in quarter notes; the page plays seconds.
      notes: notes.map((note) => ({ pitch: note.pitch, start: note.start * secondsPerQuarter, duration: note.duration * secondsPerQuarter, velocity: note.velocity })),
    };
  };
  const [first, ...others] = composed.pieces.map((one) => piece(one.notes));
  return {
    kind: 'music',
    seed: body.seed,
    style: composed.style,
    bpm: composed.bpm,
    beatsPerBar: composed.beatsPerBar,
    ...first!,
    // With n > 1, the first piece is the result's own fields and the rest follow.
    ...(others.length > 0 ? { more: others } : {}),
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
  const index = label === undefined ? generationRandom(seed, 'label').integer(classes) : resolveModelLabel(model, name, label);
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
  return { z: seededLatents(body.seed, body.n, latent.latentDim, body.truncation).map((row) => Array.from(row)) };
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

/** PixelCNN completion, as `genloom complete` does it (the same seed stream, so both give the same completions). */
export function complete(model: LoadedModel, body: CompleteRequest, context: OperationContext): Record<string, unknown> {
  const image = imageTensor(model, body.png, context);
  let result;
  try {
    result = completeImages(model, { image, rows: body.rows, n: body.n, seed: body.seed, label: body.label }, reporting(context));
  } finally {
    image.dispose();
  }
  const { input, images, rows, labelName } = result;
  return {
    kind: 'images',
    seed: body.seed,
    rows,
    input: png(input),
    images: images.map((picture, index) => ({ png: png(picture), index, ...(labelName !== undefined ? { label: labelName } : {}) })),
    grid: gridPng([input, ...images]),
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
    return seededLatents(end.seed, 1, latent.latentDim)[0]!;
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

/** A PCA map of the test images' latents (see src/latent/latent-map.ts). */
export function latentMap(model: LoadedModel, body: { dataset?: string; count: number }, context: OperationContext): Record<string, unknown> {
  const latent = requireLatent(model, context.name);
  if (!latent.encode) throw new GenloomError('UNSUPPORTED', `${context.name} has no encoder, so its latent space cannot be mapped from images`);
  const dataset = takeImages(datasetForModel(model, context.name, body.dataset, 'test'), body.count);
  context.checkCancelled();
  return { ...mapOfLatents(latent, dataset) };
}

/**
 * The attribute vectors the latent explorer's sliders move along: for a model of the emoji data,
 * its named attributes (age, smile, hair, skin tone); otherwise one per label, the mean latent of
 * that label's images minus that of the rest.
 */
export function attributes(model: LoadedModel, body: { dataset?: string; perLabel: number }, context: OperationContext): Record<string, unknown> {
  const latent = requireLatent(model, context.name);
  if (!latent.encode) throw new GenloomError('UNSUPPORTED', `${context.name} has no encoder; attribute vectors come from encoded images`);
  const spec = body.dataset ?? String(model.manifest.training['dataset'] ?? '');
  if (spec === emojiDatasetName) {
    const data = loadEmoji('train', model.imageShape![0]);
    return {
      attributes: emojiAttributes.map((attribute) => {
        context.checkCancelled();
        return { name: attribute.name, group: attribute.group, vector: Array.from(namedAttributeVector(latent, data, attribute).direction) };
      }),
    };
  }
  const dataset = datasetForModel(model, context.name, body.dataset, 'train');
  if (!dataset.labels || !dataset.labelNames) throw new GenloomError('BAD_ARGUMENT', `${dataset.name} has no labels to make attribute vectors from`);
  const vectors = labelAttributeVectors(latent, dataset, body.perLabel, () => context.checkCancelled());
  return { attributes: vectors.map(({ name, vector }) => ({ name, vector: Array.from(vector) })) };
}

/** The corpus images nearest a text in a clip model's space, best first, as PNGs with their captions and scores. */
export function search(model: LoadedModel, body: { text: string; n: number; split: 'train' | 'test'; dataset?: string }, context: OperationContext): Record<string, unknown> {
  const contrastive = requireContrastive(model, context.name);
  const corpus = searchCorpus(contrastive, body.dataset ?? String(model.manifest.training['dataset'] ?? ''), body.split);
  context.checkCancelled();
  const { hits, images } = searchImages(contrastive, { text: body.text }, corpus, body.n);
  const pngs = tensorToImages(images);
  images.dispose();
  return { hits: hits.map((hit, i) => ({ ...hit, png: png(pngs[i]!) })) };
}

export function attention(model: LoadedModel, body: { prompt: string }, context: OperationContext): Record<string, unknown> {
  if (!model.text) throw new GenloomError('UNSUPPORTED', `${context.name} is a ${model.family} model; attention maps are for text models`);
  const { tokens, layers } = model.text.attention(body.prompt);
  return { tokens, layers: layers.map((heads) => heads.map((matrix) => Array.from(matrix, (value) => Number(value.toFixed(4))))) };
}

/** What the studio needs to know about a loaded model to draw its pages: its own facts, and what its family declares. */
export function describe(model: LoadedModel): Record<string, unknown> {
  const latent = model.latent;
  const family = getFamily(model.family);
  const sampling = family.sampling;
  return {
    ...(model.imageShape ? { imageShape: model.imageShape } : {}),
    ...(model.labelNames ? { labelNames: model.labelNames } : {}),
    conditional: Boolean(model.conditional),
    generationFields: generationFieldsOf(model),
    slowGeneration: Boolean(family.slowGeneration),
    ...(latent ? { latentDim: latent.latentDim, conditionDim: latent.conditionDim ?? 0, encoder: Boolean(latent.encode) } : {}),
    ...(sampling
      ? {
          samplers: [...sampling.samplers],
          defaultSampler: sampling.defaultSampler,
          defaultSteps: defaultSteps(model),
          defaultGuidance: sampling.defaultGuidance,
          timesteps: Number(model.manifest.config['timesteps']),
        }
      : {}),
    // A prompt picks a label, so any conditional image model follows one; a text-to-image model reads it whole.
    prompts: (Boolean(model.conditional) || model.textConditioning !== undefined) && family.generates === 'images',
    ...(model.textConditioning ? { textConditioning: { contextTokens: model.textConditioning.contextTokens } } : {}),
    ...(model.music ? { styles: model.music.styles, bpm: model.music.bpm, beatsPerBar: model.music.beatsPerBar } : {}),
    ...(model.text ? { context: model.text.context, vocabularySize: model.text.tokenizer.vocabularySize } : {}),
  };
}
