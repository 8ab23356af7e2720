import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { GenloomError, type GenloomErrorCode } from '../core/errors.ts';
import { ihdr, pngChunk as chunk, pngFile, scanlines } from '../../test/png-bytes.ts';
import { decodeImageBytes, encodePng, imageGrid, imageStrip, maxImagePixels, readImage, resizeImage, scaleUp, toChannels, writePng, type ImageData01 } from './image.ts';

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

// ---------------------------------------------------------------------------------------------
// Hand-built PNG and JPEG files (issue 27, hostile input): written byte by byte here, independent of
// both pngjs's encoder and our own header check.

/** Throws a one-line CORRUPT_FILE error naming `name` and matching `pattern`; returns the message. */
function refused(bytes: Buffer, name: string, pattern: RegExp): string {
  let message = '';
  assert.throws(() => decodeImageBytes(bytes, name), (error: unknown) => {
    assert.ok(error instanceof GenloomError, `expected GenloomError, got ${String(error)}`);
    assert.equal(error.code, 'CORRUPT_FILE');
    assert.ok(error.message.startsWith(name) || error.message.includes(` ${name}`), `"${error.message}" names ${name}`);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes('\n'), 'one line');
    message = error.message;
    return true;
  });
  return message;
}

test('a PNG declaring a huge size is refused from its header in milliseconds, before any allocation', () => {
  for (const [width, height] of [[30000, 30000], [65535, 65535], [4097, 4096], [1, maxImagePixels + 1], [0xffffffff, 1]]) {
    const bytes = pngFile(ihdr(width, height, 8, 6), new Uint8Array(10));
    assert.ok(bytes.length < 120, `a ${bytes.length}-byte file`);
    const before = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    const message = refused(bytes, 'image.png', new RegExp(`^image\\.png is ${width}x${height} pixels; genloom reads images up to 16\\.8 megapixels \\(e\\.g\\. 4096x4096\\)$`));
    assert.ok(performance.now() - started < 100, `${message}: took ${performance.now() - started} ms`);
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 2 ** 20, 'no big buffer was allocated');
  }
  // Exactly at the bound the size is accepted, and the (short) pixel data is what is refused.
  refused(pngFile(ihdr(4096, 4096, 8, 0), new Uint8Array(10)), 'edge.png', /pixel data holds 10 bytes but a 4096x4096 8-bit grey image needs 16781312/);
  refused(pngFile(ihdr(0, 28, 8, 0), new Uint8Array(0)), 'empty.png', /header says 0x28 pixels \(an image has at least 1x1\)/);
  refused(pngFile(ihdr(28, 0, 8, 0), new Uint8Array(0)), 'flat.png', /header says 28x0 pixels/);
});

test('a JPEG declaring a huge or empty size is refused from its frame header (SOF)', () => {
  const sof = (marker: number, width: number, height: number, components = 3) => {
    const segment = Buffer.alloc(2 + 2 + 6 + components * 3);
    segment.set([0xff, marker], 0);
    segment.writeUInt16BE(segment.length - 2, 2);
    segment.writeUInt8(8, 4);
    segment.writeUInt16BE(height, 5);
    segment.writeUInt16BE(width, 7);
    segment.writeUInt8(components, 9);
    for (let c = 0; c < components; c++) segment.set([c + 1, 0x11, 0], 10 + c * 3);
    return segment;
  };
  const comment = Buffer.from([0xff, 0xfe, 0x00, 0x05, 0x68, 0x69, 0x21]); // COM "hi!"
  const jpegOf = (...segments: Buffer[]) => Buffer.concat([Buffer.from([0xff, 0xd8]), comment, ...segments, Buffer.from([0xff, 0xd9])]);
  const started = performance.now();
  refused(jpegOf(sof(0xc0, 30000, 30000)), 'big.jpg', /^big\.jpg is 30000x30000 pixels; genloom reads images up to 16\.8 megapixels/);
  refused(jpegOf(sof(0xc2, 65535, 65535)), 'big.jpg', /is 65535x65535 pixels/);
  assert.ok(performance.now() - started < 100);
  refused(jpegOf(sof(0xc0, 28, 0)), 'dnl.jpg', /header says 28x0 pixels/);
  refused(jpegOf(sof(0xc9, 28, 28)), 'arith.jpg', /SOF9 .*genloom reads baseline and progressive JPEGs/);
  refused(jpegOf(sof(0xc0, 28, 28, 0)), 'none.jpg', /0 colour components/);
  refused(jpegOf(), 'nosof.jpg', /ends \(EOI\) before any frame header/);
  refused(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 2]), 'sos.jpg', /image data \(SOS\) starts before any frame header/);
  refused(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x40, 0]), 'cut.jpg', /claims 16384 bytes but the file has 2 left \(truncated\?\)/);
});

test('a PNG whose IDAT holds less than its header implies is refused with the same message every time', () => {
  // 28x28 8-bit grey needs 28 rows of 1 filter byte + 28 samples = 812 bytes; this holds the first row only.
  const firstRow = scanlines([Array.from({ length: 28 }, (_, x) => x * 9)]);
  const bytes = pngFile(ihdr(28, 28, 8, 0), firstRow);
  const messages = new Set(Array.from({ length: 5 }, () => refused(bytes, 'short.png', /pixel data holds 29 bytes but a 28x28 8-bit grey image needs 812 \(truncated or damaged\)/)));
  assert.equal(messages.size, 1, [...messages].join(' | '));
  // One byte short and one byte long are both refused: the length must be exact.
  const full = Array.from({ length: 28 }, (_, y) => Array.from({ length: 28 }, (_, x) => (x + y) % 256));
  const exact = scanlines(full);
  assert.equal(decodeImageBytes(pngFile(ihdr(28, 28, 8, 0), exact), 'exact.png').data.length, 784);
  refused(pngFile(ihdr(28, 28, 8, 0), exact.subarray(0, 811)), 'short.png', /holds 811 bytes but .* needs 812/);
  refused(pngFile(ihdr(28, 28, 8, 0), Buffer.concat([exact, Buffer.of(0)])), 'long.png', /inflates to more than the 812 bytes/);
});

test('a PNG zip bomb stops inflating just past the size its header implies', () => {
  const bomb = pngFile(ihdr(28, 28, 8, 0), new Uint8Array(64 * 2 ** 20)); // 64 MB of zeros, deflated to ~64 kB
  assert.ok(bomb.length < 200_000);
  const started = performance.now();
  refused(bomb, 'bomb.png', /inflates to more than the 812 bytes a 28x28 8-bit grey image holds/);
  assert.ok(performance.now() - started < 200, `took ${performance.now() - started} ms`);
});

test('bad CRCs, broken chunks, zero-size and truncated PNGs give one CORRUPT_FILE line each', () => {
  const good = pngFile(ihdr(5, 3, 8, 2), scanlines(Array.from({ length: 3 }, (_, y) => Array.from({ length: 15 }, (_, i) => (i * 17 + y) % 256))));
  assert.equal(decodeImageBytes(good, 'good.png').width, 5);
  const badCrc = Buffer.from(good);
  badCrc[8 + 8 + 4] ^= 0x01; // a bit of IHDR's width
  refused(badCrc, 'crc.png', /its IHDR chunk at byte 8 has a bad CRC/);
  const badIdatCrc = Buffer.from(good);
  badIdatCrc[33 + 8 + 2] ^= 0x10; // inside the IDAT data
  refused(badIdatCrc, 'crc.png', /its IDAT chunk at byte 33 has a bad CRC/);
  refused(Buffer.alloc(0), 'zero.png', /^zero\.png is empty \(0 bytes\)/);
  refused(good.subarray(0, 8), 'sig.png', /ends after 8 bytes with no IEND chunk/);
  refused(good.subarray(0, good.length - 12), 'noend.png', /no IEND chunk \(truncated\?\)/);
  refused(good.subarray(0, 20), 'cut.png', /IHDR chunk at byte 8 claims 13 bytes but the file has 0 left/);
  // Every possible truncation, and every single-byte change, is either decoded or refused in one line.
  for (let length = 1; length < good.length; length++) refused(good.subarray(0, length), 'cut.png', /./);
  for (let index = 0; index < good.length; index++) {
    const changed = Buffer.from(good);
    changed[index] ^= 0x5a;
    try {
      decodeImageBytes(changed, 'flipped.png');
    } catch (error) {
      assert.ok(error instanceof GenloomError && !error.message.includes('\n') && error.message.includes('flipped.png'), `byte ${index}: ${String(error)}`);
    }
  }
  refused(Buffer.concat([good.subarray(0, 8), chunk('IDAT', new Uint8Array(4)), good.subarray(8)]), 'order.png', /first chunk is IDAT, not IHDR/);
  refused(pngFile(ihdr(4, 4, 3, 0), new Uint8Array(0)), 'depth.png', /bit depth 3 is not allowed for grey images/);
  refused(pngFile(ihdr(4, 4, 8, 5), new Uint8Array(0)), 'type.png', /colour type 5 does not exist/);
  refused(pngFile(ihdr(2, 1, 8, 3), scanlines([[0, 1]])), 'nopalette.png', /palette image without a PLTE chunk/);
  refused(pngFile(ihdr(2, 1, 8, 3), scanlines([[0, 1]]), [chunk('PLTE', Uint8Array.of(0, 0, 0))]), 'index.png', /cannot decode PNG image index\.png: index 1 not in palette/);
  refused(pngFile(ihdr(2, 1, 8, 0), Uint8Array.of(9, 0, 0)), 'filter.png', /cannot decode PNG image filter\.png: Unrecognised filter type - 9/);
});

test('valid 16-bit, palette, low-bit-depth and interlaced PNGs still decode exactly', () => {
  // 16-bit grey: full precision kept.
  const grey16 = Buffer.alloc(2 * (1 + 3 * 2));
  [0, 65535, 1, 32768, 12345, 40000].forEach((value, index) => grey16.writeUInt16BE(value, 1 + (index >= 3 ? 1 : 0) + index * 2));
  const sixteen = decodeImageBytes(pngFile(ihdr(3, 2, 16, 0), grey16), 'grey16.png');
  assert.equal(sixteen.channels, 1);
  assert.deepEqual([...sixteen.data].map((value) => Math.round(value * 65535)), [0, 65535, 1, 32768, 12345, 40000]);
  // 16-bit RGBA: alpha composited over white.
  const rgba16 = Buffer.alloc(1 + 8);
  [65535, 0, 0, 65535].forEach((value, index) => rgba16.writeUInt16BE(value, 1 + index * 2));
  assert.deepEqual([...decodeImageBytes(pngFile(ihdr(1, 1, 16, 6), rgba16), 'rgba16.png').data], [1, 0, 0]);
  // 2-bit palette, 5 pixels wide (two bytes a row), with a four-colour palette.
  const palette = chunk('PLTE', Uint8Array.of(0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255));
  const indices = [0, 1, 2, 3, 1];
  const packed = [(indices[0]! << 6) | (indices[1]! << 4) | (indices[2]! << 2) | indices[3]!, indices[4]! << 6];
  const paletted = decodeImageBytes(pngFile(ihdr(5, 1, 2, 3), scanlines([packed]), [palette]), 'palette.png');
  assert.equal(paletted.channels, 3);
  assert.deepEqual([...paletted.data], [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0]);
  // 1-bit grey, 10 pixels wide.
  const bits = decodeImageBytes(pngFile(ihdr(10, 1, 1, 0), scanlines([[0b10110000, 0b01000000]])), 'bits.png');
  assert.deepEqual([...bits.data], [1, 0, 1, 1, 0, 0, 0, 0, 0, 1]);
  // Adam7-interlaced 8-bit grey at sizes where some of the seven passes are empty.
  const passes = [[0, 8, 0, 8], [4, 8, 0, 8], [0, 4, 4, 8], [2, 4, 0, 4], [0, 2, 2, 4], [1, 2, 0, 2], [0, 1, 1, 2]];
  for (const [width, height] of [[1, 1], [3, 2], [9, 9], [28, 28]]) {
    const value = (x: number, y: number) => (x * 31 + y * 7) % 256;
    const rows: number[][] = [];
    for (const [x0, dx, y0, dy] of passes) {
      for (let y = y0!; y < height; y += dy!) {
        const row: number[] = [];
        for (let x = x0!; x < width; x += dx!) row.push(value(x, y));
        if (row.length > 0) rows.push(row);
      }
    }
    const image = decodeImageBytes(pngFile(ihdr(width, height, 8, 0, 1), scanlines(rows)), 'interlaced.png');
    const expected = Array.from({ length: width * height }, (_, index) => value(index % width, Math.floor(index / width)));
    assert.deepEqual([...image.data].map((level) => Math.round(level * 255)), expected, `${width}x${height}`);
  }
  // pngjs's own 16-bit encoder's output reads back too.
  const png = new PNG({ width: 2, height: 1, bitDepth: 16, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  const written = PNG.sync.write(Object.assign(png, { data: Buffer.from(new Uint16Array([65535, 0, 0, 0, 65535, 0]).buffer) }), { bitDepth: 16, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  assert.equal(decodeImageBytes(written, 'pngjs16.png').width, 2);
});

test('readImage refuses a directory, a FIFO or a device without opening it', { timeout: 10_000 }, () => {
  refusedPath(directory, /is not a regular file \(it is a directory\)/);
  if (fs.existsSync('/dev/null')) refusedPath('/dev/null', /is not a regular file \(it is a character device\)/);
  const fifo = path.join(directory, 'fifo.png');
  // Opening a FIFO blocks until a writer comes: if readImage opened it, this test would hang.
  if (spawnSync('mkfifo', [fifo]).status === 0) refusedPath(fifo, /is not a regular file \(it is a FIFO\)/);
  function refusedPath(target: string, pattern: RegExp) {
    assertGenloomError(() => readImage(target), 'CORRUPT_FILE', target);
    assert.throws(() => readImage(target), pattern);
  }
});
