/**
 * Drawing samples from any model as feedback sees them: a batch of images, texts (each a prompt and
 * its continuation) or pieces, from a seed. Rejection and reward-weighted fine-tuning score these,
 * `rate` shows them to a person, and `feedback report` draws the parent's and the child's with the
 * same seeds.
 */
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';
import { fromSeed, type Random } from '../core/random.ts';
import { loadTextCorpus } from '../data/text-dataset.ts';
import type { LoadedModel, SampleOptions } from '../models/family.ts';
import type { Note } from '../music/midi.ts';
import { defaultTokenSampling, type TokenSamplingOptions } from '../sampling/token-sampling.ts';
import { createProgress } from '../train/progress.ts';
import { baseDataset, rewardKindOf, type Reward, type RewardScores } from './rewards.ts';
import { loadImageDataset } from '../data/index.ts';

export interface ImageCandidates {
  kind: 'image';
  count: number;
  shape: [number, number, number];
  /** count × H × W × C pixels in [0, 1]. */
  pixels: Float32Array;
  /** Text-to-image models: the prompt each sample was drawn for. */
  prompts?: string[];
}

export interface TextCandidates {
  kind: 'text';
  count: number;
  prompts: string[];
  /** The continuations, without their prompts. */
  texts: string[];
}

export interface MusicCandidates {
  kind: 'music';
  count: number;
  pieces: Note[][];
  bpm: number;
  beatsPerBar: number;
}

export type Candidates = ImageCandidates | TextCandidates | MusicCandidates;

export interface CandidateOptions {
  count: number;
  seed: number;
  /** Image models: the family's sampling options (sampler, steps, guidance, truncation, labels). */
  image?: SampleOptions;
  /** Text and text-to-image models: one prompt per sample, cycled (default: line openings, or captions, of the model's dataset). */
  prompts?: string[];
  text?: Partial<{ maxTokens: number } & TokenSamplingOptions>;
  /** Music models: the length of each piece. */
  bars?: number;
  quiet: boolean;
}

export const defaultTextSampling = { maxTokens: 160, temperature: 0.8, topK: 0, topP: 0.95, repetitionPenalty: 1 };

/** Draws `options.count` samples; sample i depends only on (seed, i), so a subset reproduces. */
export function drawCandidates(model: LoadedModel, dir: string, options: CandidateOptions): Candidates {
  const random = fromSeed(options.seed).fork('candidates');
  const progress = createProgress({ total: options.count, label: 'sample', quiet: options.quiet });
  try {
    switch (rewardKindOf(model.family)) {
      case 'image':
        return drawImages(model, dir, options, random, (done) => progress.update(done, {}));
      case 'text':
        return drawTexts(model, dir, options, random, (done) => progress.update(done, {}));
      case 'music':
        return drawPieces(model, options, random, (done) => progress.update(done, {}));
    }
  } finally {
    progress.stop();
  }
}

function drawImages(model: LoadedModel, dir: string, options: CandidateOptions, random: Random, onProgress: (done: number) => void): ImageCandidates {
  if (!model.sampleImages || !model.imageShape) throw new GenloomError('UNSUPPORTED', `${dir} is a ${model.family} model, which does not sample images`);
  const shape = model.imageShape;
  const size = shape[0] * shape[1] * shape[2];
  const pixels = new Float32Array(options.count * size);
  // Small batches for the slow samplers (diffusion, PixelCNN) so progress moves.
  const batch = model.family === 'gan' || model.family === 'vae' ? 250 : 50;
  const given = options.prompts && options.prompts.length > 0 ? options.prompts : null;
  const prompts = model.textConditioning ? Array.from({ length: options.count }, (_, i) => (given ? given[i % given.length]! : '')) : undefined;
  if (prompts && !given) datasetCaptions(model, options.count, options.seed).forEach((caption, i) => (prompts[i] = caption));
  for (let start = 0; start < options.count; start += batch) {
    const n = Math.min(batch, options.count - start);
    const labels = options.image?.labels ? Array.from({ length: n }, (_, i) => options.image!.labels![(start + i) % options.image!.labels!.length]!) : undefined;
    const images = model.sampleImages(n, random.fork(start), { ...options.image, ...(labels ? { labels } : {}), ...(prompts ? { prompts: prompts.slice(start, start + n) } : {}) });
    pixels.set(images.dataSync() as Float32Array, start * size);
    images.dispose();
    onProgress(start + n);
  }
  return { kind: 'image', count: options.count, shape, pixels, ...(prompts ? { prompts } : {}) };
}

/** `count` training captions of the dataset a text-to-image model was first trained on (a seeded draw, with repeats when needed). */
export function datasetCaptions(model: LoadedModel, count: number, seed: number): string[] {
  const spec = baseDataset(model.manifest);
  const [height, width, channels] = model.imageShape!;
  const captions = loadImageDataset(spec, { split: 'train', height, width, channels: channels as 1 | 3, captions: 'optional' }).captions;
  if (!captions?.length) throw new GenloomError('BAD_ARGUMENT', `${spec} has no captions to draw prompts from: give --prompt`);
  const order = fromSeed(seed).fork('captions').permutation(captions.length);
  return Array.from({ length: count }, (_, i) => captions[order[i % captions.length]!]!);
}

function drawTexts(model: LoadedModel, dir: string, options: CandidateOptions, random: Random, onProgress: (done: number) => void): TextCandidates {
  const text = model.text;
  if (!text) throw new GenloomError('UNSUPPORTED', `${dir} is a ${model.family} model, which does not write text`);
  const prompts = options.prompts && options.prompts.length > 0 ? options.prompts : datasetPrompts(model, 'train', options.count, options.seed);
  const sampling = { ...defaultTextSampling, ...options.text };
  const out: TextCandidates = { kind: 'text', count: options.count, prompts: [], texts: [] };
  for (let i = 0; i < options.count; i++) {
    const prompt = prompts[i % prompts.length]!;
    out.prompts.push(prompt);
    out.texts.push(text.generate(prompt, { ...sampling, stop: [], random: random.fork(i) }).text);
    onProgress(i + 1);
  }
  return out;
}

function drawPieces(model: LoadedModel, options: CandidateOptions, random: Random, onProgress: (done: number) => void): MusicCandidates {
  const music = model.music!;
  const steps = (options.bars ?? 8) * music.beatsPerBar * music.stepsPerQuarter;
  const pieces: Note[][] = [];
  // Composed 16 at a time (one batched forward per step), each group from its own fork.
  for (let start = 0; start < options.count; start += 16) {
    const n = Math.min(16, options.count - start);
    const composed = music.compose({ ...defaultTokenSampling, styles: new Array<number>(n).fill(0), steps, random: random.fork(start) });
    pieces.push(...composed.map((piece) => piece.notes));
    onProgress(start + n);
  }
  return { kind: 'music', count: options.count, pieces, bpm: music.bpm, beatsPerBar: music.beatsPerBar };
}

/**
 * Prompts from the model's own text: the first three words of lines drawn at random from a split
 * (training for fine-tuning data, validation for held-out comparisons).
 */
export function datasetPrompts(model: LoadedModel, split: 'train' | 'validation', count: number, seed: number): string[] {
  const spec = String(model.manifest.training['dataset'] ?? '');
  if (!spec) throw new GenloomError('BAD_ARGUMENT', 'this model records no dataset to draw prompts from: give --prompt');
  const corpus = loadTextCorpus(spec);
  const lines = corpus[split].split('\n').map((line) => line.trim().split(/\s+/).slice(0, 3).join(' ')).filter((line) => line.length > 0);
  if (lines.length === 0) throw new GenloomError('BAD_ARGUMENT', `the ${split} text of ${spec} has no lines to draw prompts from: give --prompt`);
  const random = fromSeed(seed).fork('prompts', split);
  return Array.from({ length: count }, () => lines[random.integer(lines.length)]!);
}

/** Scores candidates with a reward of their kind (texts are scored with their prompts). */
export function scoreCandidates(reward: Reward, candidates: Candidates): RewardScores {
  if (reward.kind === 'image' && candidates.kind === 'image') {
    const [height, width, channels] = candidates.shape;
    const size = height * width * channels;
    const rewards = new Float64Array(candidates.count);
    const hits = new Uint8Array(candidates.count);
    for (let start = 0; start < candidates.count; start += 250) {
      const n = Math.min(250, candidates.count - start);
      const images = tf.tensor4d(candidates.pixels.subarray(start * size, (start + n) * size), [n, height, width, channels]);
      const scores = reward.score(images, candidates.prompts?.slice(start, start + n));
      images.dispose();
      rewards.set(scores.rewards, start);
      hits.set(scores.hits, start);
    }
    return { rewards, hits };
  }
  if (reward.kind === 'text' && candidates.kind === 'text') return reward.score(candidates.texts);
  if (reward.kind === 'music' && candidates.kind === 'music') return reward.score(candidates.pieces);
  throw new GenloomError('BAD_ARGUMENT', `the reward ${reward.spec} scores ${reward.kind} but these samples are ${candidates.kind}`);
}

/** The mean reward and the share of hits. */
export function summarizeScores(scores: RewardScores, indices?: ArrayLike<number>): { rewardMean: number; targetShare: number; count: number } {
  const chosen = indices ? Array.from(indices) : Array.from({ length: scores.rewards.length }, (_, i) => i);
  if (chosen.length === 0) return { rewardMean: 0, targetShare: 0, count: 0 };
  let reward = 0;
  let hits = 0;
  for (const i of chosen) {
    reward += scores.rewards[i]!;
    hits += scores.hits[i]!;
  }
  return { rewardMean: round(reward / chosen.length), targetShare: round(hits / chosen.length), count: chosen.length };
}

export function round(value: number): number {
  return Number(value.toFixed(4));
}
