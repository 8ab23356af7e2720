/**
 * Moving MNIST (Srivastava, Mansimov & Salakhutdinov 2015, "Unsupervised Learning of Video
 * Representations using LSTMs"): MNIST digits gliding and bouncing inside a 64 × 64 frame.
 *
 * Each digit starts at a random position fully inside the frame and moves in a random direction at
 * a constant speed drawn uniformly from [2, 4] pixels per frame (the paper's range of speeds, here
 * in pixels); on reaching an edge its velocity along that axis is reflected, so the whole 28 × 28
 * digit is always inside the frame. Overlapping digits are combined with max, which keeps pixels in
 * [0, 1]. Train clips draw digits from MNIST train and test clips from MNIST test, so the splits
 * share no digit image.
 *
 * Clips are rendered on demand from `fromSeed(seed).fork(split, index)`: storing 10,000 clips of
 * 16 × 64 × 64 floats would take 2.6 GB, and a path-derived stream makes clip i the same whatever
 * was rendered before it.
 */
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';
import { fromSeed, type Random } from '../core/random.ts';
import type { Clip } from '../models/family.ts';
import { loadBuiltin, mnistLabelNames } from './builtin.ts';
import type { ImageDataset } from './image-dataset.ts';

export const movingMnistName = 'moving-mnist';

export interface ClipDataset {
  /** 'moving-mnist'. */
  name: string;
  split: 'train' | 'test';
  /** Clips in the split (default 10,000 train, 1,000 test). */
  count: number;
  frames: number;
  /** 64 × 64 by default. */
  height: number;
  width: number;
  /** 2 by default. */
  digitsPerClip: number;
  /** ['0'..'9']. */
  labelNames: string[];
  /** Renders clip `index` (0 ≤ index < count): deterministic in (seed, split, index, frames, size). */
  clip(index: number): RenderedClip;
}

/**
 * One rendered clip and the layers it was composited from: each digit's 28 × 28 image and its
 * path (top-left corner per frame, before rounding to whole pixels).
 */
export interface RenderedClip {
  clip: Clip;
  /** [digitsPerClip] labels. */
  digits: Int32Array;
  /** [digitsPerClip, 28, 28] grey levels in [0, 1]. */
  glyphs: Float32Array;
  /** [digitsPerClip, frames, 2]: (left, top) of each digit in each frame, in pixels. */
  tracks: Float32Array;
}

export interface MovingMnistOptions {
  split: 'train' | 'test';
  /** Frames per clip, an integer in 1..64. */
  frames: number;
  /** Clips in the split; default 10,000 train, 1,000 test. */
  count?: number;
  /** Default 'moving-mnist'. */
  seed?: number | string;
  /** Frame side in pixels, an integer in 28..256; default 64. */
  size?: number;
  /** Digits per clip, 1..4; default 2. */
  digitsPerClip?: number;
}

/** The side of one digit's image (MNIST's 28 px). */
export const DIGIT_SIDE = 28;
const MIN_SPEED = 2;
const MAX_SPEED = 4;
const defaultCount = { train: 10_000, test: 1_000 } as const;

// MNIST train alone is 188 MB of floats: load each split once per process, and only when asked.
const mnistCache = new Map<'train' | 'test', ImageDataset>();

function mnistSplit(split: 'train' | 'test'): ImageDataset {
  let dataset = mnistCache.get(split);
  if (!dataset) {
    dataset = loadBuiltin('mnist', split);
    mnistCache.set(split, dataset);
  }
  return dataset;
}

function badArgument(message: string): never {
  throw new GenloomError('BAD_ARGUMENT', `moving-mnist: ${message}`);
}

/**
 * Position after travelling to `p` along an axis of free range [0, range] with reflecting walls:
 * a triangle wave of period 2·range, which is exactly what repeated velocity reflection gives.
 */
function bounce(p: number, range: number): number {
  if (range === 0) return 0;
  const period = 2 * range;
  const q = ((p % period) + period) % period;
  return q > range ? period - q : q;
}

/** One digit's path: top-left corner at frame t is (bounce(x0 + vx·t), bounce(y0 + vy·t)). */
interface Trajectory { image: number; x0: number; y0: number; vx: number; vy: number }

function drawTrajectory(random: Random, range: number, sourceCount: number): Trajectory {
  const image = random.integer(sourceCount);
  const x0 = random.uniform() * range;
  const y0 = random.uniform() * range;
  const angle = random.uniform() * 2 * Math.PI;
  const speed = MIN_SPEED + random.uniform() * (MAX_SPEED - MIN_SPEED);
  return { image, x0, y0, vx: speed * Math.cos(angle), vy: speed * Math.sin(angle) };
}

/** Max-composites one 28 × 28 digit into frame t of `pixels` with its top-left corner at (left, top). */
function stamp(pixels: Float32Array, digit: Float32Array, t: number, size: number, left: number, top: number): void {
  for (let y = 0; y < DIGIT_SIDE; y++) {
    const row = (t * size + top + y) * size + left;
    for (let x = 0; x < DIGIT_SIDE; x++) {
      const value = digit[y * DIGIT_SIDE + x]!;
      if (value > pixels[row + x]!) pixels[row + x] = value;
    }
  }
}

/**
 * Renders a clip from its layers as moving MNIST does: each digit's 28 × 28 image (`glyphs`,
 * [digits, 28, 28]) stamped at its path's corner (`tracks`, [digits, frames, 2], rounded to whole
 * pixels and kept inside the frame), overlaps combined with max. Returns frames × size × size pixels.
 */
export function compositeClip(glyphs: Float32Array, tracks: Float32Array, frames: number, size: number): Float32Array {
  const pixels = new Float32Array(frames * size * size);
  const digits = glyphs.length / (DIGIT_SIDE * DIGIT_SIDE);
  const range = size - DIGIT_SIDE;
  const corner = (value: number) => Math.min(range, Math.max(0, Math.round(value)));
  for (let d = 0; d < digits; d++) {
    const glyph = glyphs.subarray(d * DIGIT_SIDE * DIGIT_SIDE, (d + 1) * DIGIT_SIDE * DIGIT_SIDE);
    for (let t = 0; t < frames; t++) {
      const at = (d * frames + t) * 2;
      stamp(pixels, glyph, t, size, corner(tracks[at]!), corner(tracks[at + 1]!));
    }
  }
  return pixels;
}

function isInteger(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * The Moving MNIST clips of one split, rendered on demand.
 * @example
 * const data = movingMnist({ split: 'train', frames: 16 });
 * const { clip, digits } = data.clip(0); // clip.pixels: 16 × 64 × 64 in [0, 1]; digits: 2 labels
 */
export function movingMnist(options: MovingMnistOptions): ClipDataset {
  const { split, frames } = options;
  if (split !== 'train' && split !== 'test') badArgument(`split must be 'train' or 'test', got ${String(split)}`);
  const count = options.count ?? defaultCount[split];
  const seed = options.seed ?? movingMnistName;
  const size = options.size ?? 64;
  const digitsPerClip = options.digitsPerClip ?? 2;
  if (!isInteger(frames, 1, 64)) badArgument(`frames must be an integer from 1 to 64, got ${frames}`);
  if (!isInteger(count, 1, Number.MAX_SAFE_INTEGER)) badArgument(`count must be a positive integer, got ${count}`);
  if (!isInteger(size, DIGIT_SIDE, 256)) badArgument(`size must be an integer from ${DIGIT_SIDE} to 256 (a digit is ${DIGIT_SIDE} px), got ${size}`);
  if (!isInteger(digitsPerClip, 1, 4)) badArgument(`digitsPerClip must be an integer from 1 to 4, got ${digitsPerClip}`);
  if (typeof seed !== 'number' && typeof seed !== 'string') badArgument(`seed must be a number or a string, got ${typeof seed}`);

  const source = mnistSplit(split);
  const root = fromSeed(seed);
  const range = size - DIGIT_SIDE;

  function clip(index: number): RenderedClip {
    if (!isInteger(index, 0, count - 1)) badArgument(`clip index must be an integer from 0 to ${count - 1}, got ${index}`);
    const stream = root.fork(split, index);
    const digits = new Int32Array(digitsPerClip);
    const glyphs = new Float32Array(digitsPerClip * DIGIT_SIDE * DIGIT_SIDE);
    const tracks = new Float32Array(digitsPerClip * frames * 2);
    for (let d = 0; d < digitsPerClip; d++) {
      // One stream per digit, so digit d's path does not depend on how many digits the clip has.
      const path = drawTrajectory(stream.fork('digit', d), range, source.count);
      digits[d] = source.labels![path.image]!;
      glyphs.set(source.pixels.subarray(path.image * DIGIT_SIDE * DIGIT_SIDE, (path.image + 1) * DIGIT_SIDE * DIGIT_SIDE), d * DIGIT_SIDE * DIGIT_SIDE);
      for (let t = 0; t < frames; t++) {
        tracks[(d * frames + t) * 2] = bounce(path.x0 + path.vx * t, range);
        tracks[(d * frames + t) * 2 + 1] = bounce(path.y0 + path.vy * t, range);
      }
    }
    const pixels = compositeClip(glyphs, tracks, frames, size);
    return { clip: { frames, height: size, width: size, pixels }, digits, glyphs, tracks };
  }

  return { name: movingMnistName, split, count, frames, height: size, width: size, digitsPerClip, labelNames: mnistLabelNames.slice(), clip };
}

/** A batch as tensors: frames [B, T, H, W, 1] float32 in [0, 1]; digits [B · digitsPerClip] labels, row-major. */
export function gatherClips(data: ClipDataset, indices: ArrayLike<number>): { frames: tf.Tensor5D; digits: Int32Array } {
  const clipSize = data.frames * data.height * data.width;
  const pixels = new Float32Array(indices.length * clipSize);
  const digits = new Int32Array(indices.length * data.digitsPerClip);
  for (let b = 0; b < indices.length; b++) {
    const rendered = data.clip(indices[b]!);
    pixels.set(rendered.clip.pixels, b * clipSize);
    digits.set(rendered.digits, b * data.digitsPerClip);
  }
  const frames = tf.tensor5d(pixels, [indices.length, data.frames, data.height, data.width, 1]); // [B, T, H, W, 1]
  return { frames, digits };
}

/**
 * A batch's layers as tensors (what the layered video model trains on): glyphs [B · D, 28, 28, 1],
 * tracks [B · D, T, 2] in pixels, and digits [B · D], digit d of clip b at row b · D + d.
 */
export function gatherLayers(data: ClipDataset, indices: ArrayLike<number>): { glyphs: tf.Tensor4D; tracks: tf.Tensor3D; digits: Int32Array } {
  const rows = indices.length * data.digitsPerClip;
  const glyphs = new Float32Array(rows * DIGIT_SIDE * DIGIT_SIDE);
  const tracks = new Float32Array(rows * data.frames * 2);
  const digits = new Int32Array(rows);
  for (let b = 0; b < indices.length; b++) {
    const rendered = data.clip(indices[b]!);
    glyphs.set(rendered.glyphs, b * data.digitsPerClip * DIGIT_SIDE * DIGIT_SIDE);
    tracks.set(rendered.tracks, b * data.digitsPerClip * data.frames * 2);
    digits.set(rendered.digits, b * data.digitsPerClip);
  }
  return { glyphs: tf.tensor4d(glyphs, [rows, DIGIT_SIDE, DIGIT_SIDE, 1]), tracks: tf.tensor3d(tracks, [rows, data.frames, 2]), digits };
}
