/**
 * An image dataset in one safetensors file: `images` F32 [N, H, W, C] in [0, 1], optional `labels`
 * I32 [N], and the label names in the metadata. Feedback fine-tuning writes the samples it keeps
 * this way, so the run's dataset is a real file that --resume, `genloom eval --dataset` and PyTorch
 * can read; users can write one too.
 */
import { existsSync } from 'node:fs';
import { GenloomError } from '../core/errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { encodeSafetensors, readSafetensors, type StoredTensor } from '../io/safetensors.ts';
import type { ImageDataset } from './image-dataset.ts';

export function isImageDatasetFile(spec: string): boolean {
  return /\.safetensors$/i.test(spec);
}

export function writeImageDatasetFile(path: string, dataset: Omit<ImageDataset, 'name' | 'split'>): void {
  const tensors: Record<string, StoredTensor> = {
    images: { dtype: 'F32', shape: [dataset.count, dataset.height, dataset.width, dataset.channels], data: dataset.pixels },
  };
  if (dataset.labels) tensors['labels'] = { dtype: 'I32', shape: [dataset.count], data: dataset.labels };
  writeFileAtomic(path, encodeSafetensors(tensors, dataset.labelNames ? { labelNames: JSON.stringify(dataset.labelNames) } : {}));
}

export function readImageDatasetFile(path: string): ImageDataset {
  if (!existsSync(path)) throw new GenloomError('NOT_FOUND', `no image dataset at ${path}: the file does not exist`);
  const { tensors, metadata } = readSafetensors(path);
  const images = tensors.get('images');
  if (!images || images.dtype !== 'F32' || images.shape.length !== 4 || (images.shape[3] !== 1 && images.shape[3] !== 3)) {
    throw new GenloomError('CORRUPT_FILE', `${path} is not an image dataset: it needs an F32 tensor "images" of shape [N, H, W, 1 or 3]`);
  }
  const [count, height, width, channels] = images.shape as [number, number, number, 1 | 3];
  if (count < 1) throw new GenloomError('EMPTY_DATASET', `${path} holds no images`);
  const dataset: ImageDataset = { name: path, split: 'all', count, height, width, channels, pixels: images.data as Float32Array };
  const labels = tensors.get('labels');
  if (labels) {
    let names: unknown;
    try {
      names = JSON.parse(metadata['labelNames'] ?? 'null');
    } catch {
      names = null;
    }
    if (labels.dtype !== 'I32' || labels.shape.length !== 1 || labels.shape[0] !== count || !Array.isArray(names)) {
      throw new GenloomError('CORRUPT_FILE', `${path}: "labels" must be I32 [${count}] with the label names as JSON in the metadata "labelNames"`);
    }
    const bad = (labels.data as Int32Array).find((label) => !(label >= 0 && label < names.length));
    if (bad !== undefined) throw new GenloomError('CORRUPT_FILE', `${path}: label ${bad} is outside its ${names.length} label names`);
    dataset.labels = labels.data as Int32Array;
    dataset.labelNames = names.map(String);
  }
  return dataset;
}
