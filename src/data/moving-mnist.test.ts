import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';
import type { Clip } from '../models/family.ts';
import { loadBuiltin } from './builtin.ts';
import { gatherClips, movingMnist } from './moving-mnist.ts';

interface Box { left: number; top: number; right: number; bottom: number }

/** The bounding box of lit pixels in frame t (inclusive), or null when the frame is dark. */
function litBox(clip: Clip, t: number): Box | null {
  let box: Box | null = null;
  for (let y = 0; y < clip.height; y++) {
    for (let x = 0; x < clip.width; x++) {
      if (clip.pixels[(t * clip.height + y) * clip.width + x]! <= 0) continue;
      box ??= { left: x, top: y, right: x, bottom: y };
      box.left = Math.min(box.left, x); box.right = Math.max(box.right, x);
      box.top = Math.min(box.top, y); box.bottom = Math.max(box.bottom, y);
    }
  }
  return box;
}

function frameInk(clip: Clip, t: number): number {
  const size = clip.height * clip.width;
  return clip.pixels.subarray(t * size, (t + 1) * size).reduce((sum, value) => sum + value, 0);
}

const mnist = { train: loadBuiltin('mnist', 'train'), test: loadBuiltin('mnist', 'test') };

/** Whether the lit crop of frame 0 of `clip` equals the lit crop of a 28 × 28 `digit`. */
function sameLitCrop(clip: Clip, target: Box, digit: Float32Array): boolean {
  const box = litBox({ frames: 1, height: 28, width: 28, pixels: digit }, 0);
  if (!box || box.right - box.left !== target.right - target.left || box.bottom - box.top !== target.bottom - target.top) return false;
  for (let y = 0; y <= box.bottom - box.top; y++) {
    for (let x = 0; x <= box.right - box.left; x++) {
      if (digit[(box.top + y) * 28 + box.left + x] !== clip.pixels[(target.top + y) * clip.width + target.left + x]) return false;
    }
  }
  return true;
}

/** Indices and labels of the MNIST images whose lit crop equals frame 0 of a one-digit clip. */
function matchingSources(clip: Clip, split: 'train' | 'test'): { index: number; label: number }[] {
  const source = mnist[split];
  const target = litBox(clip, 0)!;
  const matches: { index: number; label: number }[] = [];
  for (let i = 0; i < source.count; i++) {
    if (sameLitCrop(clip, target, source.pixels.subarray(i * 784, (i + 1) * 784))) matches.push({ index: i, label: source.labels![i]! });
  }
  return matches;
}

test('the same seed renders identical clips; another seed or index differs', () => {
  const a = movingMnist({ split: 'train', frames: 8, seed: 7 });
  const b = movingMnist({ split: 'train', frames: 8, seed: 7 });
  const c = movingMnist({ split: 'train', frames: 8, seed: 8 });
  assert.deepEqual(a.clip(3), b.clip(3));
  assert.notDeepEqual(a.clip(3).clip.pixels, c.clip(3).clip.pixels);
  assert.notDeepEqual(a.clip(3).clip.pixels, a.clip(4).clip.pixels);
  // Rendering order does not matter: clip 3 after clip 9 is still clip 3.
  a.clip(9);
  assert.deepEqual(a.clip(3), b.clip(3));
});

test('defaults: 64 × 64, two digits, 10,000 train and 1,000 test clips, pixels in [0, 1]', () => {
  const train = movingMnist({ split: 'train', frames: 4 });
  const test = movingMnist({ split: 'test', frames: 4 });
  assert.deepEqual([train.name, train.count, test.count, train.height, train.width, train.digitsPerClip], ['moving-mnist', 10000, 1000, 64, 64, 2]);
  assert.deepEqual(train.labelNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  const { clip, digits } = train.clip(0);
  assert.deepEqual([clip.frames, clip.height, clip.width, clip.pixels.length, digits.length], [4, 64, 64, 4 * 64 * 64, 2]);
  assert.ok(clip.pixels.every((value) => value >= 0 && value <= 1));
});

test('a digit stays whole inside the frame and moves at most 4 px per axis per frame', () => {
  for (const size of [64, 40]) {
    const data = movingMnist({ split: 'train', frames: 32, size, digitsPerClip: 1, seed: 'bounds' });
    for (let index = 0; index < 5; index++) {
      const { clip } = data.clip(index);
      const ink = frameInk(clip, 0);
      let previous: Box | null = null;
      let moved = 0;
      for (let t = 0; t < clip.frames; t++) {
        // Nothing clipped: every frame holds exactly the source digit's ink.
        assert.ok(Math.abs(frameInk(clip, t) - ink) < 1e-3, `clip ${index} frame ${t} lost ink`);
        const box = litBox(clip, t)!;
        assert.ok(box.left >= 0 && box.top >= 0 && box.right < size && box.bottom < size);
        if (previous) {
          const dx = box.left - previous.left, dy = box.top - previous.top;
          assert.ok(Math.abs(dx) <= 4 && Math.abs(dy) <= 4, `clip ${index} jumped ${dx},${dy} at frame ${t}`);
          moved += Math.abs(dx) + Math.abs(dy);
        }
        previous = box;
      }
      assert.ok(moved > 0, `clip ${index} never moved`);
    }
  }
});

test('a frame as small as the digit keeps it still; overlapping digits combine with max', () => {
  const still = movingMnist({ split: 'test', frames: 3, size: 28, digitsPerClip: 1 }).clip(0).clip;
  assert.deepEqual(still.pixels.subarray(0, 784), still.pixels.subarray(784, 1568));
  // Digit d's path comes from its own stream, so a two-digit clip is the one-digit clip plus a digit.
  const one = movingMnist({ split: 'test', frames: 6, digitsPerClip: 1, seed: 'max' }).clip(0);
  const two = movingMnist({ split: 'test', frames: 6, digitsPerClip: 2, seed: 'max' }).clip(0);
  assert.equal(two.digits[0], one.digits[0]);
  assert.ok(two.clip.pixels.every((value, i) => value >= one.clip.pixels[i]! && value <= 1));
  assert.ok(frameInk(two.clip, 0) > frameInk(one.clip, 0));
});

test('labels match the MNIST images drawn, train clips from MNIST train, test clips from MNIST test', () => {
  for (const split of ['train', 'test'] as const) {
    const data = movingMnist({ split, frames: 1, digitsPerClip: 1, seed: 'labels' });
    for (let index = 0; index < 2; index++) {
      const { clip, digits } = data.clip(index);
      const matches = matchingSources(clip, split);
      assert.ok(matches.length > 0, `${split} clip ${index}: digit not found in MNIST ${split}`);
      assert.ok(matches.some((match) => match.label === digits[0]), `${split} clip ${index}: label ${digits[0]} not among ${JSON.stringify(matches)}`);
    }
  }
});

test('gatherClips stacks clips as [B, T, H, W, 1] with row-major digit labels', () => {
  const data = movingMnist({ split: 'test', frames: 3, size: 32, digitsPerClip: 3 });
  const before = tf.memory().numTensors;
  const batch = gatherClips(data, [5, 2]);
  assert.deepEqual(batch.frames.shape, [2, 3, 32, 32, 1]);
  assert.equal(batch.frames.dtype, 'float32');
  const values = batch.frames.dataSync();
  assert.deepEqual(values.subarray(3 * 32 * 32), data.clip(2).clip.pixels);
  assert.deepEqual(Array.from(batch.digits), [...data.clip(5).digits, ...data.clip(2).digits]);
  batch.frames.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('bad options and indices throw one-line BAD_ARGUMENT errors', () => {
  const bad = (make: () => unknown, pattern: RegExp) =>
    assert.throws(make, (error: unknown) => error instanceof GenloomError && error.code === 'BAD_ARGUMENT' && pattern.test(error.message) && !error.message.includes('\n'));
  bad(() => movingMnist({ split: 'test', frames: 0 }), /frames/);
  bad(() => movingMnist({ split: 'test', frames: 65 }), /frames/);
  bad(() => movingMnist({ split: 'test', frames: 2.5 }), /frames/);
  bad(() => movingMnist({ split: 'test', frames: 4, size: 27 }), /size/);
  bad(() => movingMnist({ split: 'test', frames: 4, size: 257 }), /size/);
  bad(() => movingMnist({ split: 'test', frames: 4, digitsPerClip: 0 }), /digitsPerClip/);
  bad(() => movingMnist({ split: 'test', frames: 4, digitsPerClip: 5 }), /digitsPerClip/);
  bad(() => movingMnist({ split: 'test', frames: 4, count: 0 }), /count/);
  bad(() => movingMnist({ split: 'valid' as 'test', frames: 4 }), /split/);
  const data = movingMnist({ split: 'test', frames: 2, count: 3 });
  bad(() => data.clip(3), /index/);
  bad(() => data.clip(-1), /index/);
  bad(() => data.clip(1.5), /index/);
});
