/**
 * Finding images by meaning with a contrastive model: the dataset images nearest a text (or an
 * image) in the model's shared space, ranked by cosine similarity.
 */
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';
import { imageSize, loadImageDataset, type ImageDataset } from '../data/index.ts';
import type { ContrastiveModel, LoadedModel } from '../models/family.ts';

export interface SearchHit {
  rank: number;
  /** The image's index in the dataset split. */
  index: number;
  /** Cosine similarity to the query, in [-1, 1]. */
  score: number;
  caption?: string;
  label?: string;
}

export const maxSearchResults = 256;

/** The model's contrastive face, or an error naming the model and what it is. */
export function requireContrastive(model: LoadedModel, dir: string): ContrastiveModel {
  if (!model.contrastive) throw new GenloomError('UNSUPPORTED', `${dir} is a ${model.family} model, which does not embed texts and images: use a clip model`);
  return model.contrastive;
}

/** The split of `spec` a search looks through, at the model's image size. */
export function searchCorpus(model: ContrastiveModel, spec: string, split: 'train' | 'test'): ImageDataset {
  const [height, width, channels] = model.imageShape;
  return loadImageDataset(spec, { split, height, width, channels: channels as 1 | 3 });
}

/**
 * The `n` images of `corpus` most similar to the query (a text, or an embedding [1, D] of an image),
 * best first, and those images as a tensor [n, H, W, C] (the caller disposes it).
 */
export function searchImages(model: ContrastiveModel, query: { text: string } | { vector: tf.Tensor2D }, corpus: ImageDataset & { captions?: string[] }, n: number): { hits: SearchHit[]; images: tf.Tensor4D } {
  if (!(Number.isInteger(n) && n >= 1 && n <= maxSearchResults)) throw new GenloomError('BAD_ARGUMENT', `--n must be an integer from 1 to ${maxSearchResults} (got ${n})`);
  if ('text' in query && !query.text.trim()) throw new GenloomError('BAD_ARGUMENT', 'the search text is empty: say what to look for');
  const count = Math.min(n, corpus.count);
  const queryVector = 'text' in query ? model.embedTexts([query.text]) : query.vector;
  const pixels = tf.tensor4d(corpus.pixels, [corpus.count, corpus.height, corpus.width, corpus.channels]);
  const vectors = model.embedImages(pixels);
  const scores = tf.tidy(() => tf.matMul(vectors, queryVector, false, true).reshape([-1]).dataSync() as Float32Array);
  tf.dispose([pixels, vectors, ...('text' in query ? [queryVector] : [])]);
  const order = Array.from({ length: corpus.count }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b).slice(0, count);
  const size = imageSize(corpus);
  const chosen = new Float32Array(count * size);
  order.forEach((index, i) => chosen.set(corpus.pixels.subarray(index * size, (index + 1) * size), i * size));
  const hits = order.map((index, rank): SearchHit => ({
    rank: rank + 1,
    index,
    score: Number(scores[index]!.toFixed(4)),
    ...(corpus.captions ? { caption: corpus.captions[index]! } : {}),
    ...(corpus.labels && corpus.labelNames ? { label: corpus.labelNames[corpus.labels[index]!]! } : {}),
  }));
  return { hits, images: tf.tensor4d(chosen, [count, corpus.height, corpus.width, corpus.channels]) };
}
