import assert from 'node:assert/strict';
import { test } from 'node:test';
import { halfBlockPreview } from './show.ts';

test('a half-block preview puts the upper pixel in the foreground and the lower in the background', () => {
  // 2×2 greyscale: top row white, black; bottom row black, grey.
  const image = { width: 2, height: 2, channels: 1 as const, data: Float32Array.from([1, 0, 0, 0.5]) };
  const preview = halfBlockPreview(image, 2);
  assert.equal(preview, '\x1b[38;2;255;255;255m\x1b[48;2;0;0;0m▀\x1b[38;2;0;0;0m\x1b[48;2;128;128;128m▀\x1b[0m');
  const tall = halfBlockPreview({ width: 4, height: 8, channels: 1, data: new Float32Array(32) }, 4);
  assert.equal(tall.split('\n').length, 4, 'two pixel rows per text row');
});
