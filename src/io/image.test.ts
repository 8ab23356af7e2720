import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { GenloomError, type GenloomErrorCode } from '../core/errors.ts';
import { encodePng, imageGrid, imageStrip, readImage, resizeImage, scaleUp, toChannels, writePng, type ImageData01 } from './image.ts';

const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'genloom-'));
test.after(() => fs.rmSync(directory, { recursive: true, force: true }));

/** An image whose 8-bit values cover 0..255 in a pattern that differs per channel. */
function patternImage(width: number, height: number, channels: 1 | 3): ImageData01 {
  const data = new Float32Array(width * height * channels);
  for (let index = 0; index < data.length; index++) data[index] = ((index * 37 + 11) % 256) / 255;
  return { width, height, channels, data };
}

function assertGenloomError(action: () => unknown, code: GenloomErrorCode, mentions: string): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof GenloomError, `expected GenloomError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.ok(error.message.includes(mentions), `message "${error.message}" should mention ${mentions}`);
    assert.ok(!error.message.includes('\n'), 'message should be one line');
    return true;
  });
}

test('PNG write→read round trip is exact for 8-bit grey and RGB', () => {
  for (const channels of [1, 3] as const) {
    const image = patternImage(17, 9, channels);
    const target = path.join(directory, 'sub', `round-${channels}.png`);
    writePng(target, image);
    const read = readImage(target);
    assert.equal(read.channels, channels);
    assert.equal(read.width, 17);
    assert.equal(read.height, 9);
    assert.deepEqual([...read.data].map((value) => Math.round(value * 255)), [...image.data].map((value) => Math.round(value * 255)));
    assert.ok(read.data.every((value, index) => Math.abs(value - image.data[index]) < 1e-6));
    assert.deepEqual(fs.readdirSync(path.dirname(target)).filter((name) => name.includes('.tmp-')), []);
  }
});

test('encodePng clamps out-of-range values and an RGB image with equal channels reads back grey', () => {
  const image: ImageData01 = { width: 3, height: 1, channels: 3, data: Float32Array.from([-1, -1, -1, 0.5, 0.5, 0.5, 2, 2, 2]) };
  const target = path.join(directory, 'clamp.png');
  fs.writeFileSync(target, encodePng(image));
  const read = readImage(target);
  assert.equal(read.channels, 1);
  assert.deepEqual([...read.data].map((value) => Math.round(value * 255)), [0, 128, 255]);
});

test('transparent PNG pixels are composited over white', () => {
  const png = new PNG({ width: 2, height: 1 });
  png.data.set([0, 0, 0, 0, 0, 0, 0, 255]); // transparent black, opaque black
  const target = path.join(directory, 'alpha.png');
  fs.writeFileSync(target, PNG.sync.write(png));
  const read = readImage(target);
  assert.equal(read.channels, 1);
  assert.deepEqual([...read.data], [1, 0]);
});

test('JPEG read of a jpeg-js encoded image is close, and grey content comes back single-channel', () => {
  const width = 16, height = 16;
  const rgba = Buffer.alloc(width * height * 4);
  for (let pixel = 0; pixel < width * height; pixel++) {
    rgba.set([200, 60 + (pixel % width) * 4, 30, 255], pixel * 4);
  }
  const target = path.join(directory, 'photo.png'); // wrong extension on purpose: detection uses magic bytes
  fs.writeFileSync(target, jpeg.encode({ data: rgba, width, height }, 95).data);
  const read = readImage(target);
  assert.equal(read.channels, 3);
  assert.equal(read.width, width);
  let worst = 0;
  for (let pixel = 0; pixel < width * height; pixel++) {
    for (let channel = 0; channel < 3; channel++) worst = Math.max(worst, Math.abs(read.data[pixel * 3 + channel] * 255 - rgba[pixel * 4 + channel]));
  }
  assert.ok(worst <= 12, `JPEG error ${worst} levels`);

  const grey = Buffer.alloc(width * height * 4);
  for (let pixel = 0; pixel < width * height; pixel++) grey.fill(pixel % 256, pixel * 4, pixel * 4 + 3).writeUInt8(255, pixel * 4 + 3);
  const greyPath = path.join(directory, 'grey.jpg');
  fs.writeFileSync(greyPath, jpeg.encode({ data: grey, width, height }, 95).data);
  assert.equal(readImage(greyPath).channels, 1);
});

test('readImage errors: missing file, random bytes, truncated PNG, corrupt data after a PNG header', () => {
  const missing = path.join(directory, 'nope', 'missing.png');
  assertGenloomError(() => readImage(missing), 'NOT_FOUND', missing);

  const random = path.join(directory, 'random.png');
  fs.writeFileSync(random, Buffer.from(Array.from({ length: 256 }, (_, index) => (index * 97 + 13) % 256)));
  assertGenloomError(() => readImage(random), 'CORRUPT_FILE', random);

  const whole = encodePng(patternImage(32, 32, 3));
  const truncated = path.join(directory, 'truncated.png');
  fs.writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
  assertGenloomError(() => readImage(truncated), 'CORRUPT_FILE', truncated);

  const garbage = Buffer.concat([whole.subarray(0, 8), Buffer.alloc(100, 0x5a)]);
  const garbled = path.join(directory, 'garbled.png');
  fs.writeFileSync(garbled, garbage);
  assertGenloomError(() => readImage(garbled), 'CORRUPT_FILE', garbled);

  const badJpeg = path.join(directory, 'bad.jpg');
  fs.writeFileSync(badJpeg, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(64, 7)]));
  assertGenloomError(() => readImage(badJpeg), 'CORRUPT_FILE', badJpeg);
});

test('toChannels uses BT.601 luma and repeats grey', () => {
  const rgb: ImageData01 = { width: 1, height: 1, channels: 3, data: Float32Array.from([1, 0.5, 0]) };
  const grey = toChannels(rgb, 1);
  assert.ok(Math.abs(grey.data[0] - (0.299 + 0.587 * 0.5)) < 1e-6);
  assert.deepEqual([...toChannels(grey, 3).data], [grey.data[0], grey.data[0], grey.data[0]]);
});

test('resize keeps a constant image constant and a 56→28 downscale of 2×2 blocks is exact', () => {
  const constant: ImageData01 = { width: 280, height: 280, channels: 3, data: new Float32Array(280 * 280 * 3).fill(0.3) };
  for (const [width, height] of [[28, 28], [100, 37], [500, 300], [29, 420]]) {
    const resized = resizeImage(constant, width, height);
    assert.equal(resized.data.length, width * height * 3);
    assert.ok(resized.data.every((value) => Math.abs(value - 0.3) < 1e-5), `${width}x${height}`);
  }
  const small = patternImage(28, 28, 1);
  const blocks = scaleUp(small, 2);
  assert.equal(blocks.width, 56);
  assert.deepEqual([...resizeImage(blocks, 28, 28).data], [...small.data]);
  const enlarged = resizeImage({ width: 2, height: 1, channels: 1, data: Float32Array.from([0, 1]) }, 4, 1);
  assert.deepEqual([...enlarged.data], [0, 0.25, 0.75, 1]);
  assert.throws(() => resizeImage(small, 0, 5), GenloomError);
});

test('imageGrid lays out tiles with padding and background; mismatched sizes throw', () => {
  const tiles = [0, 0.25, 0.75, 1, 0.5].map((level) => ({ width: 3, height: 2, channels: 1 as const, data: new Float32Array(6).fill(level) }));
  const grid = imageGrid(tiles);
  // 5 tiles → 3 columns, 2 rows; width = 3*3 + 4*2, height = 2*2 + 3*2.
  assert.equal(grid.width, 17);
  assert.equal(grid.height, 10);
  assert.equal(grid.channels, 1);
  const at = (x: number, y: number) => grid.data[y * grid.width + x];
  assert.equal(at(0, 0), 0.5);
  assert.equal(at(2, 2), 0); // tile 0 top-left
  assert.equal(at(7, 2), 0.25); // tile 1
  assert.equal(at(2, 6), 1); // tile 3, second row
  assert.equal(at(16, 9), 0.5); // empty sixth cell stays background
  const strip = imageStrip(tiles, { padding: 0 });
  assert.equal(strip.width, 15);
  assert.equal(strip.height, 2);
  const mixed = imageGrid([tiles[0], { width: 3, height: 2, channels: 3, data: new Float32Array(18).fill(1) }], { columns: 1, background: 0 });
  assert.equal(mixed.channels, 3);
  assert.equal(mixed.height, 2 * 2 + 3 * 2);
  assertGenloomError(() => imageGrid([tiles[0], { width: 2, height: 3, channels: 1, data: new Float32Array(6) }]), 'BAD_ARGUMENT', '2x3');
  assertGenloomError(() => imageGrid([]), 'BAD_ARGUMENT', 'no images');
});

test('scaleUp repeats pixels', () => {
  const image: ImageData01 = { width: 2, height: 1, channels: 1, data: Float32Array.from([0, 1]) };
  const big = scaleUp(image, 3);
  assert.equal(big.width, 6);
  assert.equal(big.height, 3);
  assert.deepEqual([...big.data.subarray(0, 6)], [0, 0, 0, 1, 1, 1]);
  assert.throws(() => scaleUp(image, 1.5), GenloomError);
});
