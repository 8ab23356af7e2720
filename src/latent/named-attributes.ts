/**
 * Named attribute vectors ("red hair", "age", "smile") for a model with an encoder, from a dataset
 * whose images carry structured attributes (the emoji), and the check that each one shows: moving a
 * face along the vector raises a clip model's similarity to the attribute's words.
 */
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';
import { emojiAttributeNamed, emojiAttributes, type NamedAttribute } from '../data/emoji-attributes.ts';
import type { CaptionedImageDataset } from '../data/emoji.ts';
import { gatherImages } from '../data/index.ts';
import type { ContrastiveModel, LatentModel } from '../models/family.ts';
import { addScaled, attributeVector, decodeRows, encodeMeans } from './latent.ts';
import { clipImageFeatures } from '../metrics/clip-metrics.ts';

/** The attribute called `name`, or an error listing the known ones. */
export function requireNamedAttribute(name: string): NamedAttribute {
  const attribute = emojiAttributeNamed(name);
  if (!attribute) throw new GenloomError('BAD_ARGUMENT', `unknown attribute "${name}": the known ones are ${emojiAttributes.map((known) => known.name).join(', ')}`);
  return attribute;
}

/** Indices of the dataset's images that have the attribute and of those that lack it. */
export function attributeExamples(dataset: CaptionedImageDataset, attribute: NamedAttribute): { positive: number[]; negative: number[] } {
  const positive: number[] = [];
  const negative: number[] = [];
  dataset.attributes.forEach((attributes, i) => {
    if (attribute.has(attributes)) positive.push(i);
    else if (attribute.lacks(attributes)) negative.push(i);
  });
  return { positive, negative };
}

/**
 * The attribute's vector in `latent`'s space: the mean posterior mean of the examples that have it
 * minus that of those that lack it.
 */
export function namedAttributeVector(latent: LatentModel, dataset: CaptionedImageDataset, attribute: NamedAttribute): { direction: Float32Array; positives: number; negatives: number } {
  const { positive, negative } = attributeExamples(dataset, attribute);
  if (positive.length === 0 || negative.length === 0) {
    throw new GenloomError('EMPTY_DATASET', `${dataset.name} (${dataset.split}) has ${positive.length} images with "${attribute.name}" and ${negative.length} without: both are needed`);
  }
  const encode = (indices: number[]) => {
    const images = gatherImages(dataset, indices);
    const rows = encodeMeans(latent, images);
    images.dispose();
    return rows;
  };
  return { direction: attributeVector(encode(positive), encode(negative)), positives: positive.length, negatives: negative.length };
}

/** Each latent moved by each strength: rows[i][s] = z_i + strengths[s] · direction. */
export function strengthSweep(latents: Float32Array[], direction: Float32Array, strengths: number[]): Float32Array[][] {
  return latents.map((z) => strengths.map((strength) => addScaled(z, direction, strength)));
}

export interface AttributeCheck {
  attribute: string;
  words: string;
  faces: number;
  strengths: number[];
  /** Mean clip similarity to the words at each strength. */
  meanSimilarity: number[];
  /** Share of faces whose similarity at the largest strength exceeds that at the smallest. */
  risingShare: number;
  /** Share whose similarity rises at every step of the sweep. */
  monotoneShare: number;
}

/**
 * Whether the attribute shows: each face (encoded by `latent`) is moved through `strengths`,
 * decoded, and scored by the clip model's similarity to the attribute's words.
 */
export function checkAttribute(latent: LatentModel, clip: ContrastiveModel, faces: tf.Tensor4D, attribute: NamedAttribute, direction: Float32Array, strengths: number[]): AttributeCheck {
  const latents = encodeMeans(latent, faces);
  const words = clip.embedTexts([attribute.words]);
  const similarity = strengths.map((strength) => {
    const moved = latents.map((z) => addScaled(z, direction, strength));
    return tf.tidy(() => {
      const images = decodeRows(latent, moved);
      return tf.matMul(clipImageFeatures(clip, images), words, false, true).dataSync() as Float32Array; // [faces]
    });
  });
  words.dispose();
  const count = latents.length;
  let rising = 0;
  let monotone = 0;
  for (let i = 0; i < count; i++) {
    if (similarity[similarity.length - 1]![i]! > similarity[0]![i]!) rising++;
    if (similarity.every((values, s) => s === 0 || values[i]! > similarity[s - 1]![i]!)) monotone++;
  }
  const round = (value: number) => Number(value.toFixed(4));
  return {
    attribute: attribute.name,
    words: attribute.words,
    faces: count,
    strengths,
    meanSimilarity: similarity.map((values) => round(values.reduce((sum, value) => sum + value, 0) / Math.max(1, count))),
    risingShare: round(rising / Math.max(1, count)),
    monotoneShare: round(monotone / Math.max(1, count)),
  };
}

/**
 * A named attribute's vector for a model without an encoder (a GAN): `count` of its samples, drawn
 * from `random`, scored by a clip model's similarity to the attribute's words; the vector is the
 * mean latent of the best-scoring tenth minus that of the rest.
 */
export function namedAttributeVectorBySamples(latent: LatentModel, clip: ContrastiveModel, attribute: NamedAttribute, count: number, random: { normalArray(length: number): Float32Array }): { direction: Float32Array; positives: number; negatives: number } {
  if (!(count >= 20)) throw new GenloomError('BAD_ARGUMENT', `at least 20 samples are needed to find an attribute's direction (got ${count})`);
  const rows = Array.from({ length: count }, () => random.normalArray(latent.latentDim));
  const words = clip.embedTexts([attribute.words]);
  const scores = new Float32Array(count);
  const chunk = 250;
  for (let start = 0; start < count; start += chunk) {
    const part = rows.slice(start, start + chunk);
    scores.set(tf.tidy(() => tf.matMul(clipImageFeatures(clip, decodeRows(latent, part)), words, false, true).dataSync() as Float32Array), start);
  }
  words.dispose();
  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const top = Math.max(2, Math.round(count / 10));
  const positive = order.slice(0, top).map((i) => rows[i]!);
  const negative = order.slice(top).map((i) => rows[i]!);
  return { direction: attributeVector(positive, negative), positives: positive.length, negatives: negative.length };
}
