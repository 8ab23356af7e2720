/**
 * The in-memory image dataset every image family trains on, and batching by index.
 */
import * as tf from '../core/tf.ts';

export interface ImageDataset {
  /** "mnist", "fashion-mnist", or the folder's path. */
  name: string;
  split: 'train' | 'test' | 'all';
  count: number;
  height: number;
  width: number;
  channels: 1 | 3;
  /** count × height × width × channels pixels in [0, 1], NHWC. */
  pixels: Float32Array;
  /** One integer label per image when the dataset has labels. */
  labels?: Int32Array;
  /** Names of the labels, indexed by label. */
  labelNames?: string[];
  /** One caption per image, for datasets that have them (emoji; folders with .txt captions). */
  captions?: string[];
}

export function imageSize(dataset: ImageDataset): number {
  return dataset.height * dataset.width * dataset.channels;
}

/** The images at `indices` as a tensor [B, H, W, C]. */
export function gatherImages(dataset: ImageDataset, indices: ArrayLike<number>): tf.Tensor4D {
  const size = imageSize(dataset);
  const out = new Float32Array(indices.length * size);
  for (let i = 0; i < indices.length; i++) {
    const start = indices[i]! * size;
    out.set(dataset.pixels.subarray(start, start + size), i * size);
  }
  return tf.tensor4d(out, [indices.length, dataset.height, dataset.width, dataset.channels]);
}

/** The labels of the images at `indices` as an int32 tensor [B]; the dataset must have labels. */
export function gatherLabels(dataset: ImageDataset, indices: ArrayLike<number>): tf.Tensor1D {
  const labels = dataset.labels!;
  return tf.tensor1d(Int32Array.from(indices, (i) => labels[i]!), 'int32');
}

/** The first `count` images (or all) as a new dataset sharing nothing with the original. */
export function takeImages(dataset: ImageDataset, count: number): ImageDataset {
  const n = Math.min(count, dataset.count);
  const size = imageSize(dataset);
  const subset: ImageDataset = { ...dataset, count: n, pixels: dataset.pixels.slice(0, n * size) };
  if (dataset.labels) subset.labels = dataset.labels.slice(0, n);
  return subset;
}

/** Indices of images with (`matching` true) or without the given label. */
export function indicesWithLabel(dataset: ImageDataset, label: number, matching = true): number[] {
  const out: number[] = [];
  if (!dataset.labels) return out;
  for (let i = 0; i < dataset.count; i++) if ((dataset.labels[i] === label) === matching) out.push(i);
  return out;
}

/** Resolves a label given as an index or a name (case-insensitive) against the dataset's names. */
export function resolveLabel(dataset: Pick<ImageDataset, 'labelNames' | 'name'>, label: string | number): number {
  const names = dataset.labelNames ?? [];
  const text = String(label).trim();
  const byName = names.findIndex((name) => name.toLowerCase() === text.toLowerCase());
  if (byName >= 0) return byName;
  const index = Number(text);
  if (Number.isInteger(index) && index >= 0 && index < names.length) return index;
  return -1;
}
