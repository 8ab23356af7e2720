/**
 * The writers suite: every file format genloom writes is read back — by genloom's own reader where
 * it has one, else by walking the format's structure — with the content or dimensions it was
 * given. PNG, GIF, MIDI, WAV, MP4 (H.264), OBJ and PLY; and the path-writing forms write whole
 * files only (an atomic rename: nothing half-written is left under the name).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeGif, writeGif } from '../../src/io/gif.ts';
import { decodeImageBytes, encodePng, writePng, type ImageData01 } from '../../src/io/image.ts';
import { encodeMp4 } from '../../src/io/video.ts';
import { encodeWav, renderNotes } from '../../src/music/audio.ts';
import { encodeMidi, parseMidi, writeMidi } from '../../src/music/midi.ts';
import { marchingCubes } from '../../src/shapes/marching-cubes.ts';
import { encodeObj, encodePly, readMesh, writeMeshFiles } from '../../src/shapes/mesh.ts';
import { proceduralShape } from '../../src/shapes/procedural.ts';
import { fromSeed } from '../../src/core/random.ts';
import { tempDir } from '../fixtures.ts';

const dir = tempDir('genloom-writers-');

/** A test card: a gradient with a bright square, so a transposed or shifted image differs. */
function card(width: number, height: number, channels: 1 | 3): ImageData01 {
  const data = new Float32Array(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = x < 4 && y < 4 ? 1 : ((x + 2 * y + c * 7) % 17) / 16;
  return { width, height, channels, data };
}

test('PNG: grey and colour images come back with their size and their 8-bit pixels', () => {
  for (const image of [card(13, 7, 1), card(9, 11, 3)]) {
    const decoded = decodeImageBytes(encodePng(image), 'card.png');
    assert.deepEqual([decoded.width, decoded.height, decoded.channels], [image.width, image.height, image.channels]);
    for (let i = 0; i < image.data.length; i++) assert.ok(Math.abs(decoded.data[i]! - image.data[i]!) <= 0.5 / 255 + 1e-6, `pixel value ${i}`);
  }
});

/** The logical screen size and the number of frames of a GIF, by walking its blocks. */
function gifStructure(bytes: Uint8Array): { width: number; height: number; frames: number; delays: number[] } {
  assert.equal(Buffer.from(bytes.subarray(0, 6)).toString('latin1'), 'GIF89a');
  const width = bytes[6]! | (bytes[7]! << 8);
  const height = bytes[8]! | (bytes[9]! << 8);
  let at = 13 + (bytes[10]! & 0x80 ? 3 * 2 ** ((bytes[10]! & 7) + 1) : 0);
  const skipSubBlocks = () => {
    while (bytes[at]! !== 0) at += bytes[at]! + 1;
    at++;
  };
  let frames = 0;
  const delays: number[] = [];
  for (;;) {
    const block = bytes[at]!;
    if (block === 0x3b) break;
    if (block === 0x21) {
      if (bytes[at + 1] === 0xf9) delays.push((bytes[at + 4]! | (bytes[at + 5]! << 8)) * 10);
      at += 2;
      skipSubBlocks();
    } else if (block === 0x2c) {
      frames++;
      const packed = bytes[at + 9]!;
      at += 10 + (packed & 0x80 ? 3 * 2 ** ((packed & 7) + 1) : 0) + 1; // descriptor, local table, LZW code size
      skipSubBlocks();
    } else {
      assert.fail(`unexpected GIF block 0x${block.toString(16)} at ${at}`);
    }
  }
  return { width, height, frames, delays };
}

test('GIF: every frame is in the file, at the size and delay asked for (and enlarged by an integer scale)', () => {
  const frames = [card(10, 6, 1), card(10, 6, 3), card(10, 6, 1)];
  const gif = gifStructure(encodeGif(frames, { delayMs: 120 }));
  assert.deepEqual([gif.width, gif.height, gif.frames], [10, 6, 3]);
  assert.ok(gif.delays.every((delay) => delay === 120), `delays ${gif.delays}`);
  const scaled = gifStructure(encodeGif(frames, { delayMs: 50, scale: 3 }));
  assert.deepEqual([scaled.width, scaled.height], [30, 18]);
});

test('MIDI: the notes, tempo and metre come back as written', () => {
  const notes = [
    { pitch: 60, start: 0, duration: 1, velocity: 80 },
    { pitch: 64, start: 1, duration: 0.5, velocity: 64 },
    { pitch: 67, start: 1.5, duration: 2.5, velocity: 100 },
  ];
  const score = parseMidi(encodeMidi({ notes, bpm: 90, beatsPerBar: 3 }), 'piece.mid');
  assert.equal(score.bpm, 90);
  assert.equal(score.beatsPerBar, 3);
  assert.deepEqual(score.notes.map((note) => [note.pitch, note.start, note.duration]), notes.map((note) => [note.pitch, note.start, note.duration]));
  assert.deepEqual(score.notes.map((note) => Math.round(note.velocity / 8)), notes.map((note) => Math.round(note.velocity / 8)));
});

test('WAV: a RIFF/WAVE header that says 16-bit PCM at the rate given, and one sample per tick of the piece', () => {
  const samples = renderNotes([{ pitch: 69, start: 0, duration: 1, velocity: 100 }], { bpm: 120, sampleRate: 8000 });
  const wav = encodeWav(samples, 8000);
  assert.equal(wav.toString('latin1', 0, 4), 'RIFF');
  assert.equal(wav.toString('latin1', 8, 12), 'WAVE');
  assert.equal(wav.readUInt16LE(20), 1, 'PCM');
  assert.equal(wav.readUInt16LE(22), 1, 'mono');
  assert.equal(wav.readUInt32LE(24), 8000);
  assert.equal(wav.readUInt16LE(34), 16);
  assert.equal(wav.toString('latin1', 36, 40), 'data');
  assert.equal(wav.readUInt32LE(40), samples.length * 2);
  assert.equal(wav.length, 44 + samples.length * 2);
  // A one-beat A4 at 120 bpm lasts half a second, plus the release.
  assert.ok(samples.length >= 4000 && samples.length < 8000, `${samples.length} samples`);
});

test('MP4: an ISO file (ftyp, moov, mdat) whose H.264 track has the frames\' size', async () => {
  const bytes = Buffer.from(await encodeMp4([card(32, 16, 1), card(32, 16, 3), card(32, 16, 1)], { fps: 8 }));
  assert.equal(bytes.toString('latin1', 4, 8), 'ftyp');
  const boxes: string[] = [];
  for (let at = 0; at + 8 <= bytes.length; ) {
    const size = bytes.readUInt32BE(at);
    boxes.push(bytes.toString('latin1', at + 4, at + 8));
    if (size < 8) break;
    at += size;
  }
  assert.ok(boxes.includes('moov') && boxes.includes('mdat'), `top-level boxes ${boxes}`);
  const avc1 = bytes.indexOf('avc1', 0, 'latin1');
  assert.ok(avc1 > 0, 'an avc1 (H.264) sample entry');
  assert.deepEqual([bytes.readUInt16BE(avc1 + 28), bytes.readUInt16BE(avc1 + 30)], [32, 16]);
});

test('OBJ and PLY: a marching-cubes mesh reads back with the same vertices and triangles', () => {
  const mesh = marchingCubes(proceduralShape(0, fromSeed('writers'), 12));
  assert.ok(mesh.faces.length > 0);
  for (const [name, bytes] of [['shape.obj', encodeObj(mesh)], ['shape.ply', encodePly(mesh)]] as const) {
    writeFileSync(join(dir, name), bytes);
    const read = readMesh(join(dir, name));
    assert.equal(read.faces.length, mesh.faces.length, `${name}: triangles`);
    // The reader welds shared corners, so compare the set of corner positions.
    const corners = (positions: Float32Array, faces: Uint32Array) => new Set(Array.from(faces, (index) => [0, 1, 2].map((axis) => positions[index * 3 + axis]!.toFixed(3)).join(',')));
    assert.deepEqual(corners(read.positions, read.faces), corners(mesh.positions, mesh.faces), `${name}: corners`);
  }
});

test('the path-writing forms leave whole files under their names and no temporary files beside them', () => {
  const out = tempDir('genloom-writers-paths-');
  writePng(join(out, 'a.png'), card(5, 5, 1));
  writeGif(join(out, 'a.gif'), [card(5, 5, 1)]);
  writeMidi(join(out, 'a.mid'), { notes: [{ pitch: 60, start: 0, duration: 1, velocity: 80 }], bpm: 120, beatsPerBar: 4 });
  writeMeshFiles(join(out, 'a'), marchingCubes(proceduralShape(1, fromSeed('writers'), 8)));
  assert.deepEqual(readdirSync(out).sort(), ['a.gif', 'a.mid', 'a.obj', 'a.ply', 'a.png']);
  assert.equal(decodeImageBytes(readFileSync(join(out, 'a.png')), 'a.png').width, 5);
  assert.equal(gifStructure(readFileSync(join(out, 'a.gif'))).frames, 1);
  assert.equal(parseMidi(readFileSync(join(out, 'a.mid')), 'a.mid').notes.length, 1);
});
