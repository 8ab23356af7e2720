/**
 * One entry point for image data: a built-in name or a path to the user's folder.
 */
import { existsSync } from 'node:fs';
import { GenloomError } from '../core/errors.ts';
import { builtinDatasets, loadBuiltin, type BuiltinDataset } from './builtin.ts';
import { loadImageFolder } from './folder.ts';
import { isImageDatasetFile, readImageDatasetFile } from './image-file.ts';
import { loadEmoji } from './emoji.ts';
import type { ImageDataset } from './image-dataset.ts';

export * from './image-dataset.ts';
export { builtinDatasets } from './builtin.ts';

/** The built-in colour dataset (emoji.ts): 32×32 or 64×64 RGB, with captions. */
export const emojiDatasetName = 'emoji';
/** Every built-in image dataset: the 28×28 grey ones and the colour emoji. */
export const builtinImageDatasets = [...builtinDatasets, emojiDatasetName] as const;

export interface ImageDatasetOptions {
  split: 'train' | 'test';
  /** For folders: the size to resize to (built-ins are 28×28 greyscale). */
  height?: number;
  width?: number;
  channels?: 1 | 3 | 'auto';
  /** For folders: whether each image needs a caption in its .txt file (see folder.ts; default 'optional'). */
  captions?: boolean | 'optional';
}

export function isBuiltinDataset(spec: string): spec is BuiltinDataset {
  return (builtinDatasets as readonly string[]).includes(spec);
}

/**
 * Loads `spec`: "mnist", "fashion-mnist", "emoji", or a folder of images. A folder has no test split: both
 * splits return all of it.
 * @example
 * const train = loadImageDataset('mnist', { split: 'train' });
 */
export function loadImageDataset(spec: string, options: ImageDatasetOptions): ImageDataset {
  if (!spec) throw new GenloomError('BAD_ARGUMENT', `--dataset is required: one of ${builtinImageDatasets.join(', ')} or a folder of images`);
  if (spec === emojiDatasetName) {
    if (options.channels === 1) throw new GenloomError('SHAPE_MISMATCH', 'emoji images are colour (3 channels); a greyscale model cannot use them');
    if (options.height && options.width && options.height !== options.width) throw new GenloomError('BAD_ARGUMENT', `emoji images are square; a model of size ${options.height}×${options.width} cannot use them`);
    return loadEmoji(options.split, options.height ?? 32);
  }
  if (isBuiltinDataset(spec)) {
    const dataset = loadBuiltin(spec, options.split);
    if ((options.height && options.height !== 28) || (options.width && options.width !== 28)) {
      throw new GenloomError('BAD_ARGUMENT', `${spec} images are 28×28; a model of size ${options.height}×${options.width} cannot use them`);
    }
    return dataset;
  }
  if (isImageDatasetFile(spec)) {
    const dataset = readImageDatasetFile(spec);
    if ((options.height && options.height !== dataset.height) || (options.width && options.width !== dataset.width)) {
      throw new GenloomError('SHAPE_MISMATCH', `${spec} holds ${dataset.height}×${dataset.width} images; a model of size ${options.height}×${options.width} cannot use them`);
    }
    return dataset;
  }
  if (!/[\\/.]/.test(spec) && !existsSync(spec)) {
    // A bare word that is neither a built-in nor a folder: most likely a typo, so say what exists.
    throw new GenloomError('NOT_FOUND', `unknown dataset "${spec}": use ${builtinImageDatasets.join(', ')} or a path to a folder of images`);
  }
  return loadImageFolder(spec, { height: options.height ?? 32, width: options.width ?? 32, channels: options.channels ?? 'auto', ...(options.captions !== undefined ? { captions: options.captions } : {}) });
}
