import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { encodeGif, writeGif } from './gif.ts';
import type { ImageData01 } from './image.ts';

const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'genloom-'));
test.after(() => fs.rmSync(directory, { recursive: true, force: true }));

interface GifSummary { width: number; height: number; frames: number; loops: boolean; delays: number[]; globalTableSize: number }

/** Walks the GIF block structure (no decoder is installed), failing on anything malformed. */
function parseGif(bytes: Uint8Array): GifSummary {
  assert.equal(Buffer.from(bytes.subarray(0, 6)).toString('latin1'), 'GIF89a');
  const word = (offset: number) => bytes[offset] | (bytes[offset + 1] << 8);
  const width = word(6), height = word(8), packed = bytes[10];
  const globalTableSize = packed & 0x80 ? 2 ** ((packed & 7) + 1) : 0;
  let offset = 13 + globalTableSize * 3;
  const skipSubBlocks = () => {
    while (bytes[offset] !== 0) offset += bytes[offset] + 1;
    offset++;
  };
  const summary: GifSummary = { width, height, frames: 0, loops: false, delays: [], globalTableSize };
  for (;;) {
    assert.ok(offset < bytes.length, 'GIF ended without a trailer');
    const block = bytes[offset];
    if (block === 0x3b) break;
    if (block === 0x21) {
      const label = bytes[offset + 1];
      if (label === 0xff && Buffer.from(bytes.subarray(offset + 3, offset + 14)).toString('latin1') === 'NETSCAPE2.0') summary.loops = true;
      if (label === 0xf9) summary.delays.push(word(offset + 4));
      offset += 2;
      skipSubBlocks();
    } else if (block === 0x2c) {
      summary.frames++;
      assert.equal(word(offset + 5), width);
      assert.equal(word(offset + 7), height);
      const local = bytes[offset + 9];
      offset += 10 + (local & 0x80 ? 3 * 2 ** ((local & 7) + 1) : 0) + 1; // descriptor, local table, LZW code size
      skipSubBlocks();
    } else {
      assert.fail(`unexpected GIF block 0x${block.toString(16)} at ${offset}`);
    }
  }
  return summary;
}

function greyFrame(level: number): ImageData01 {
  return { width: 8, height: 6, channels: 1, data: new Float32Array(48).fill(level) };
}

test('greyscale GIF: header, loop extension, frame count, delay, scale, grey palette', () => {
  const bytes = encodeGif([greyFrame(0), greyFrame(0.5), greyFrame(1)], { delayMs: 200, scale: 3 });
  const summary = parseGif(bytes);
  assert.equal(summary.frames, 3);
  assert.equal(summary.loops, true);
  assert.deepEqual(summary.delays, [20, 20, 20]);
  assert.equal(summary.width, 24);
  assert.equal(summary.height, 18);
  assert.equal(summary.globalTableSize, 256);
  // Entry 128 of the global colour table is grey level 128.
  assert.deepEqual([...bytes.subarray(13 + 128 * 3, 13 + 129 * 3)], [128, 128, 128]);
});

test('colour GIF (mixed with a grey frame) with loop=false omits the loop extension; writeGif writes atomically', () => {
  const frames: ImageData01[] = [0, 1, 2, 3].map((shift) => {
    const data = new Float32Array(10 * 10 * 3);
    for (let index = 0; index < data.length; index++) data[index] = ((index + shift * 7) % 13) / 12;
    return { width: 10, height: 10, channels: 3, data };
  });
  const target = path.join(directory, 'out', 'colour.gif');
  const greyOfSameSize: ImageData01 = { width: 10, height: 10, channels: 1, data: new Float32Array(100).fill(0.2) };
  writeGif(target, [...frames, greyOfSameSize], { loop: false }); // mixed grey and colour frames
  const summary = parseGif(fs.readFileSync(target));
  assert.equal(summary.frames, 5);
  assert.equal(summary.loops, false);
  assert.deepEqual(fs.readdirSync(path.dirname(target)), ['colour.gif']);
});

test('encodeGif rejects empty input, mismatched frames and bad options', () => {
  assert.throws(() => encodeGif([]), GenloomError);
  assert.throws(() => encodeGif([greyFrame(0), { width: 4, height: 4, channels: 1, data: new Float32Array(16) }]), /frame 1 is 4x4/);
  assert.throws(() => encodeGif([greyFrame(0)], { scale: 0 }), GenloomError);
  assert.throws(() => encodeGif([greyFrame(0)], { delayMs: -5 }), GenloomError);
});
