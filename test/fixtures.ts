/**
 * Small datasets the tests make themselves, so the suite runs on a fresh clone with no downloads.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromSeed } from '../src/core/random.ts';
import type { ImageDataset } from '../src/data/image-dataset.ts';
import { writePng, type ImageData01 } from '../src/io/image.ts';

export function tempDir(prefix = 'genloom-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * A 28×28 greyscale picture of one of two shapes: label 0 a filled square, label 1 a ring, at a
 * seeded position and size, so a tiny model has real structure to learn.
 */
export function shapeImage(label: 0 | 1, seed: number, size = 28): ImageData01 {
  const random = fromSeed(seed).fork('shape');
  const data = new Float32Array(size * size);
  const radius = size * (0.18 + 0.12 * random.uniform());
  const centerX = size / 2 + (random.uniform() - 0.5) * size * 0.3;
  const centerY = size / 2 + (random.uniform() - 0.5) * size * 0.3;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x - centerX;
      const dy = y - centerY;
      const inside = label === 0 ? Math.max(Math.abs(dx), Math.abs(dy)) < radius : Math.abs(Math.hypot(dx, dy) - radius) < size * 0.06;
      data[y * size + x] = inside ? 1 : 0;
    }
  }
  return { width: size, height: size, channels: 1, data };
}

/** A folder with subfolders "square" and "ring" of `perLabel` PNGs each. */
export function writeShapeFolder(dir: string, perLabel: number, size = 28): string {
  (['square', 'ring'] as const).forEach((name, label) => {
    mkdirSync(join(dir, name), { recursive: true });
    for (let i = 0; i < perLabel; i++) writePng(join(dir, name, `${i}.png`), shapeImage(label as 0 | 1, label * 1000 + i, size));
  });
  return dir;
}

/** The same shapes as an in-memory dataset. */
export function shapeDataset(count: number, size = 28): ImageDataset {
  const pixels = new Float32Array(count * size * size);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % 2;
    pixels.set(shapeImage((i % 2) as 0 | 1, i, size).data, i * size * size);
  }
  return { name: 'shapes', split: 'all', count, height: size, width: size, channels: 1, pixels, labels, labelNames: ['square', 'ring'] };
}
