/**
 * A captioned contact sheet of any image dataset, so a person can see what a model learns from:
 * `genloom data show emoji --limit 64 --out grid.png`.
 */
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import { plotCaptionedGrid } from '../io/plot.ts';
import { imageSize, loadImageDataset, type ImageDataset } from './index.ts';

export interface ContactSheetOptions {
  split: 'train' | 'test';
  /** How many images; at most 1,024 (a sheet beyond that is unreadable). */
  limit: number;
  /** A seeded draw over the split, so the sheet shows variety; the same seed gives the same sheet. */
  seed: number;
  /** For emoji and folders: the size images are loaded at. */
  imageSize?: number;
}

export const maxContactSheetImages = 1024;

/** What each image is called on the sheet: its caption, else its label's name, else its index. */
export function describeImage(dataset: ImageDataset & { captions?: string[] }, index: number): string {
  if (dataset.captions) return dataset.captions[index]!;
  if (dataset.labels && dataset.labelNames) return dataset.labelNames[dataset.labels[index]!] ?? String(dataset.labels[index]);
  return `#${index}`;
}

/** The PNG bytes of a contact sheet of `limit` images of `spec` drawn with `seed`. */
export async function datasetContactSheet(spec: string, options: ContactSheetOptions): Promise<Buffer> {
  if (!(Number.isInteger(options.limit) && options.limit >= 1 && options.limit <= maxContactSheetImages)) {
    throw new GenloomError('BAD_ARGUMENT', `--limit must be an integer from 1 to ${maxContactSheetImages} (got ${options.limit})`);
  }
  const size = options.imageSize;
  const dataset = loadImageDataset(spec, { split: options.split, ...(size ? { height: size, width: size } : {}) });
  const order = fromSeed(options.seed).fork('contact-sheet').permutation(dataset.count);
  const chosen = Array.from(order.subarray(0, Math.min(options.limit, dataset.count))).sort((a, b) => a - b);
  const pixels = imageSize(dataset);
  const images = chosen.map((index) => ({
    width: dataset.width,
    height: dataset.height,
    channels: dataset.channels,
    data: dataset.pixels.subarray(index * pixels, (index + 1) * pixels),
  }));
  const title = `${spec} (${options.split}): ${chosen.length} of ${dataset.count} images, seed ${options.seed}`;
  return plotCaptionedGrid(images, chosen.map((index) => describeImage(dataset, index)), { title, columns: Math.min(8, chosen.length) });
}
