import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { GenloomError } from '../core/errors.ts';
import { writePng } from '../io/image.ts';
import { tempDir, writeShapeFolder } from '../../test/fixtures.ts';
import { loadImageDataset, resolveLabel } from './index.ts';

function expectError(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => error instanceof GenloomError && error.code === code && pattern.test(error.message));
}

test('built-in MNIST and Fashion-MNIST load both splits with labels', () => {
  for (const [name, trainCount] of [['mnist', 60_000], ['fashion-mnist', 60_002]] as const) {
    const test = loadImageDataset(name, { split: 'test' });
    assert.equal(test.count, 10_000);
    assert.equal(test.pixels.length, 10_000 * 784);
    assert.equal(loadImageDataset(name, { split: 'train' }).count, trainCount);
    const counts = new Array(10).fill(0);
    for (const label of test.labels!) counts[label]++;
    assert.ok(counts.every((count) => count > 800), `every class is in the ${name} test split`);
    let max = 0;
    for (const value of test.pixels) max = Math.max(max, value);
    assert.equal(max, 1, 'pixels scaled to [0, 1]');
  }
  const fashion = loadImageDataset('fashion-mnist', { split: 'test' });
  assert.equal(resolveLabel(fashion, 'Sneaker'), 7);
  assert.equal(resolveLabel(fashion, '3'), 3);
  assert.equal(resolveLabel(fashion, 'giraffe'), -1);
});

test('a folder of images: subfolders are labels, images are resized and channels detected', () => {
  const dir = writeShapeFolder(join(tempDir(), 'shapes'), 3, 40);
  const data = loadImageDataset(dir, { split: 'train', height: 20, width: 20 });
  assert.equal(data.count, 6);
  assert.deepEqual([data.height, data.width, data.channels], [20, 20, 1]);
  assert.deepEqual(data.labelNames, ['ring', 'square']);
  assert.deepEqual(Array.from(data.labels!), [0, 0, 0, 1, 1, 1]);
  writePng(join(dir, 'square', 'red.png'), { width: 8, height: 8, channels: 3, data: new Float32Array(8 * 8 * 3).map((_, i) => (i % 3 === 0 ? 1 : 0)) });
  assert.equal(loadImageDataset(dir, { split: 'train', height: 8, width: 8 }).channels, 3, 'one colour image makes the dataset RGB');
});

test('missing, empty, corrupt and mistyped datasets give errors naming them', () => {
  const root = tempDir();
  expectError(() => loadImageDataset(join(root, 'none'), { split: 'train' }), 'NOT_FOUND', /none does not exist/);
  expectError(() => loadImageDataset('mnits', { split: 'train' }), 'NOT_FOUND', /unknown dataset "mnits"/);
  mkdirSync(join(root, 'empty'));
  expectError(() => loadImageDataset(join(root, 'empty'), { split: 'train' }), 'EMPTY_DATASET', /empty has no \.png/);
  mkdirSync(join(root, 'bad'));
  writeFileSync(join(root, 'bad', 'x.png'), 'garbage');
  expectError(() => loadImageDataset(join(root, 'bad'), { split: 'train' }), 'CORRUPT_FILE', /x\.png/);
  expectError(() => loadImageDataset('mnist', { split: 'train', height: 32, width: 32 }), 'BAD_ARGUMENT', /28×28/);
  mkdirSync(join(root, 'stray', 'cats'), { recursive: true });
  writePng(join(root, 'stray', 'cats', 'a.png'), { width: 4, height: 4, channels: 1, data: new Float32Array(16) });
  writeFileSync(join(root, 'stray', 'cats', 'notes.txt'), 'hello');
  writeFileSync(join(root, 'stray', '.DS_Store'), '');
  expectError(() => loadImageDataset(join(root, 'stray'), { split: 'train' }), 'BAD_ARGUMENT', /notes\.txt, which is not a \.png or \.jpg image/);
});
