/**
 * Small datasets the tests make themselves, so the suite runs on a fresh clone with no downloads.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
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

export const captionColours = { red: [0.9, 0.1, 0.1], green: [0.1, 0.75, 0.2], blue: [0.15, 0.25, 0.9], yellow: [0.95, 0.85, 0.1] } as const;
export const captionShapes = ['square', 'ring'] as const;

/**
 * A colour picture on white of a shape (square or ring) in a colour, at a seeded position: the
 * captioned toy corpus ("a red ring") a tiny clip model learns to match.
 */
export function colourShapeImage(colour: keyof typeof captionColours, shape: (typeof captionShapes)[number], seed: number, size = 16): ImageData01 {
  const grey = shapeImage(shape === 'square' ? 0 : 1, seed, size);
  const rgb = captionColours[colour];
  const data = new Float32Array(size * size * 3);
  for (let i = 0; i < size * size; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = grey.data[i]! > 0 ? rgb[c]! : 1;
  return { width: size, height: size, channels: 3, data };
}

/** A folder of every colour × shape, `copies` of each at different positions, each x.png with its caption in x.txt. */
export function writeCaptionedFolder(dir: string, copies: number, size = 16): string {
  mkdirSync(dir, { recursive: true });
  let index = 0;
  for (const colour of Object.keys(captionColours) as (keyof typeof captionColours)[]) {
    for (const shape of captionShapes) {
      for (let copy = 0; copy < copies; copy++, index++) {
        const name = String(index).padStart(3, '0');
        writePng(join(dir, `${name}.png`), colourShapeImage(colour, shape, index, size));
        writeFileSync(join(dir, `${name}.txt`), `a ${colour} ${shape}\n`);
      }
    }
  }
  return dir;
}
