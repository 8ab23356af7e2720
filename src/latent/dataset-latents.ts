/**
 * A model's latents for a dataset: the images it was trained on (or others of its shape), encoded
 * to posterior means. Shared by `latent-map`, `attribute` and the studio's latent explorer.
 */
import { GenloomError } from '../core/errors.ts';
import { gatherImages, loadImageDataset, type ImageDataset } from '../data/index.ts';
import type { LatentModel, LoadedModel } from '../models/family.ts';
import { encodeMeans } from './latent.ts';

export function encodeDataset(latent: LatentModel, dataset: ImageDataset): Float32Array[] {
  const images = gatherImages(dataset, Array.from({ length: dataset.count }, (_, i) => i));
  const rows = encodeMeans(latent, images);
  images.dispose();
  return rows;
}

/** `spec` (default: the model's training dataset) loaded at the model's image shape. */
export function datasetForModel(model: LoadedModel, name: string, spec: string | undefined, split: 'train' | 'test'): ImageDataset {
  if (!model.imageShape) throw new GenloomError('UNSUPPORTED', `${name} is a ${model.family} model, which does not work on images`);
  const [height, width, channels] = model.imageShape;
  const dataset = spec ?? ((model.manifest.training as Record<string, unknown>)['dataset'] as string);
  return loadImageDataset(dataset, { split, height, width, channels: channels as 1 | 3 });
}
