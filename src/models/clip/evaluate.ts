/**
 * `genloom eval` for a clip model: text→image and image→text retrieval on the test split (and on
 * the emoji's compositional split) beside chance, and zero-shot subcategory accuracy.
 */
import * as tf from '../../core/tf.ts';
import { loadEmoji, type CaptionedImageDataset } from '../../data/emoji.ts';
import { emojiDatasetName, loadImageDataset, type ImageDataset } from '../../data/index.ts';
import type { ContrastiveModel } from '../family.ts';
import { chanceAtK, nearestClassAccuracy, recallAtK, transposed } from './retrieval.ts';

const ks = [1, 5, 10];

/** Similarities [rows × columns] of two sets of unit vectors. */
function similarities(rows: tf.Tensor2D, columns: tf.Tensor2D): Float32Array {
  return tf.tidy(() => tf.matMul(rows, columns, false, true).dataSync() as Float32Array);
}

/** Embeddings of a captioned dataset's images and captions. */
function embedDataset(model: ContrastiveModel, data: ImageDataset & { captions: string[] }): { images: tf.Tensor2D; texts: tf.Tensor2D } {
  const pixels = tf.tensor4d(data.pixels, [data.count, data.height, data.width, data.channels]);
  try {
    return { images: model.embedImages(pixels), texts: model.embedTexts(data.captions) };
  } finally {
    pixels.dispose();
  }
}

/** Recall@k both ways on one captioned set, from its embeddings: caption i belongs to image i. */
export function retrieval(embedded: { images: tf.Tensor2D; texts: tf.Tensor2D }): Record<string, unknown> {
  const count = embedded.images.shape[0];
  const textToImage = similarities(embedded.texts, embedded.images); // [captions × images]
  const matches = Int32Array.from({ length: count }, (_, i) => i);
  return {
    pairs: count,
    textToImage: recallAtK(textToImage, count, count, matches, ks),
    imageToText: recallAtK(transposed(textToImage, count, count), count, count, matches, ks),
    chance: chanceAtK(count, ks),
  };
}

/** `measure` on a captioned set's embeddings, which are freed afterwards. */
function withEmbeddings<T>(model: ContrastiveModel, data: ImageDataset & { captions: string[] }, measure: (embedded: { images: tf.Tensor2D; texts: tf.Tensor2D }) => T): T {
  const embedded = embedDataset(model, data);
  try {
    return measure(embedded);
  } finally {
    tf.dispose([embedded.images, embedded.texts]);
  }
}

/**
 * Zero-shot classification of the images by subcategory: each subcategory's text is its name
 * ("face-smiling" → "face smiling"), never seen as a caption; an image takes the nearest name.
 */
export function zeroShotSubcategory(model: ContrastiveModel, data: CaptionedImageDataset, images: tf.Tensor2D): Record<string, unknown> {
  const names = [...new Set(data.attributes.map((attributes) => attributes.subcategory))].sort();
  const labels = Int32Array.from(data.attributes, (attributes) => names.indexOf(attributes.subcategory));
  const texts = model.embedTexts(names.map((name) => name.replace(/-/g, ' ')));
  try {
    const counts = names.map((_, c) => labels.filter((label) => label === c).length);
    return {
      classes: names.length,
      accuracy: nearestClassAccuracy(similarities(images, texts), names.length, labels),
      chance: 1 / names.length,
      majority: Math.max(...counts) / data.count,
    };
  } finally {
    texts.dispose();
  }
}

export function evaluateClip(model: ContrastiveModel, spec: string): Record<string, unknown> {
  const [height] = model.imageShape;
  if (spec === emojiDatasetName) {
    const test = loadEmoji('test', height);
    // The test images are embedded once, for retrieval and for the zero-shot labels.
    const onTest = withEmbeddings(model, test, (embedded) => ({ retrieval: retrieval(embedded), zeroShotSubcategory: zeroShotSubcategory(model, test, embedded.images) }));
    return {
      family: 'clip',
      dataset: spec,
      split: 'test',
      retrieval: onTest.retrieval,
      compositional: withEmbeddings(model, loadEmoji('compositional', height), retrieval),
      zeroShotSubcategory: onTest.zeroShotSubcategory,
      temperature: 1 / model.logitScale,
    };
  }
  const [, width, channels] = model.imageShape;
  const data = loadImageDataset(spec, { split: 'test', height, width, channels: channels as 1 | 3, captions: true });
  return { family: 'clip', dataset: spec, split: data.split, retrieval: withEmbeddings(model, data as ImageDataset & { captions: string[] }, retrieval), temperature: 1 / model.logitScale };
}
