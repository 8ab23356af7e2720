import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GenloomError } from '../core/errors.ts';
import type { Clip } from '../models/family.ts';
import { decodeImageBytes } from './image.ts';
import { clipFrames, encodeMp4, writeClipFiles } from './video.ts';

const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'genloom-video-'));
test.after(() => fs.rmSync(directory, { recursive: true, force: true }));

/** A square of light moving one pixel right per frame. */
function movingSquare(frames: number, height: number, width: number): Clip {
  const pixels = new Float32Array(frames * height * width);
  for (let t = 0; t < frames; t++) {
    for (let y = 1; y < 3; y++) for (let x = t; x < t + 2; x++) pixels[(t * height + y) * width + (x % width)] = 1;
  }
  return { frames, height, width, pixels };
}

interface Box { type: string; start: number; end: number }

const containers = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl']);

/** Every MP4 box, depth first, descending into the containers that lead to the sample table. */
function mp4Boxes(bytes: Uint8Array, start = 0, end = bytes.length): Box[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const boxes: Box[] = [];
  for (let offset = start; offset < end;) {
    const size = view.getUint32(offset);
    const type = Buffer.from(bytes.subarray(offset + 4, offset + 8)).toString('latin1');
    assert.ok(size >= 8 && offset + size <= end, `bad ${type} box size ${size} at ${offset}`);
    boxes.push({ type, start: offset + 8, end: offset + size });
    if (containers.has(type)) boxes.push(...mp4Boxes(bytes, offset + 8, offset + size));
    offset += size;
  }
  return boxes;
}

function gifFrameCount(bytes: Uint8Array): number {
  assert.equal(Buffer.from(bytes.subarray(0, 6)).toString('latin1'), 'GIF89a');
  const packed = bytes[10];
  let offset = 13 + (packed & 0x80 ? 3 * 2 ** ((packed & 7) + 1) : 0);
  const skipSubBlocks = () => {
    while (bytes[offset] !== 0) offset += bytes[offset] + 1;
    offset++;
  };
  let frames = 0;
  for (;;) {
    assert.ok(offset < bytes.length, 'GIF ended without a trailer');
    const block = bytes[offset];
    if (block === 0x3b) return frames;
    if (block === 0x21) {
      offset += 2;
    } else {
      assert.equal(block, 0x2c, `unexpected GIF block at ${offset}`);
      frames++;
      const local = bytes[offset + 9];
      offset += 10 + (local & 0x80 ? 3 * 2 ** ((local & 7) + 1) : 0) + 1;
    }
    skipSubBlocks();
  }
}

test('clipFrames splits a clip into greyscale frames, scaled by an integer', () => {
  const clip = movingSquare(3, 4, 6);
  const frames = clipFrames(clip, 2);
  assert.equal(frames.length, 3);
  assert.deepEqual([frames[1].width, frames[1].height, frames[1].channels], [12, 8, 1]);
  // Frame 1's square covers source pixels x 1..2, y 1..2: scaled, x 2..5, y 2..5.
  assert.equal(frames[1].data[2 * 12 + 2], 1);
  assert.equal(frames[1].data[2 * 12 + 1], 0);
  assert.deepEqual(clipFrames(clip)[2].data, clip.pixels.subarray(2 * 24, 3 * 24));
});

test('MP4: ftyp, moov and mdat boxes, one sample per frame, duration frames / fps, odd sizes padded to even', async () => {
  const clip = movingSquare(7, 9, 11);
  const bytes = await encodeMp4(clipFrames(clip), { fps: 5 });
  const boxes = mp4Boxes(bytes);
  assert.equal(boxes[0].type, 'ftyp');
  for (const type of ['moov', 'mdat', 'trak', 'stbl']) assert.ok(boxes.some((box) => box.type === type), `no ${type} box`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stsz = boxes.find((box) => box.type === 'stsz')!;
  assert.equal(view.getUint32(stsz.start + 8), 7); // after version/flags and the common sample size
  const mdhd = boxes.find((box) => box.type === 'mdhd')!;
  assert.equal(bytes[mdhd.start], 0, 'expected a version-0 mdhd');
  assert.ok(Math.abs(view.getUint32(mdhd.start + 16) / view.getUint32(mdhd.start + 12) - 7 / 5) < 0.01);
  // stsd's first sample entry (avc1) stores width and height 24 and 26 bytes into its body.
  const stsd = boxes.find((box) => box.type === 'stsd')!;
  const entry = stsd.start + 8;
  assert.equal(Buffer.from(bytes.subarray(entry + 4, entry + 8)).toString('latin1'), 'avc1');
  assert.deepEqual([view.getUint16(entry + 32), view.getUint16(entry + 34)], [12, 10]);
});

test('writeClipFiles writes a GIF of every frame, an MP4 and a strip PNG at the chosen scale', async () => {
  const clip = movingSquare(5, 8, 8);
  const base = path.join(directory, 'nested', 'clip');
  const paths = await writeClipFiles(base, clip, { fps: 4, scale: 3 });
  assert.deepEqual(paths, { gif: `${base}.gif`, mp4: `${base}.mp4`, strip: `${base}.png` });
  assert.equal(gifFrameCount(fs.readFileSync(paths.gif)), 5);
  const mp4 = fs.readFileSync(paths.mp4);
  assert.equal(mp4Boxes(mp4)[0].type, 'ftyp');
  const strip = decodeImageBytes(fs.readFileSync(paths.strip), paths.strip);
  // imageStrip puts 2 px of background around and between the tiles.
  assert.equal(strip.width, 5 * 8 * 3 + 6 * 2);
  assert.equal(strip.height, 8 * 3 + 2 * 2);
  assert.ok(!fs.readdirSync(path.dirname(base)).some((name) => name.includes('.tmp-')));
});

test('a clip of the wrong pixel length, bad scale or fps throws BAD_ARGUMENT and writes nothing', async () => {
  const isBad = (pattern: RegExp) => (error: unknown) => error instanceof GenloomError && error.code === 'BAD_ARGUMENT' && pattern.test(error.message);
  const short: Clip = { frames: 4, height: 8, width: 8, pixels: new Float32Array(100) };
  assert.throws(() => clipFrames(short), isBad(/pixels must be a Float32Array of 256 values/));
  assert.throws(() => clipFrames(movingSquare(2, 4, 4), 1.5), isBad(/scale/));
  const base = path.join(directory, 'bad', 'clip');
  await assert.rejects(writeClipFiles(base, short), isBad(/pixels/));
  await assert.rejects(writeClipFiles(base, movingSquare(2, 4, 4), { fps: 0 }), isBad(/fps/));
  assert.equal(fs.existsSync(path.dirname(base)), false);
  await assert.rejects(encodeMp4([], { fps: 10 }), isBad(/no frames/));
  const frames = [...clipFrames(movingSquare(1, 4, 4)), ...clipFrames(movingSquare(1, 4, 6))];
  await assert.rejects(encodeMp4(frames, { fps: 10 }), isBad(/frame 1 is 6x4/));
});
