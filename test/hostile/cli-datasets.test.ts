/**
 * Issue 27, hostile input: every malformed file or dataset given to the real CLI (train music,
 * sample --primer, train transformer, train shape, interpolate) exits non-zero within seconds with
 * ONE line naming the file and the problem: never "unexpected error", a stack trace, a hang or a
 * memory blow-up. The inputs are made here, small (the largest is a 20 MB line of text); every
 * model is tiny and trains one step.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readManifest } from '../../src/io/checkpoint.ts';
import { encodeMidi, type Note } from '../../src/music/midi.ts';
import { bin } from '../cli.ts';
import { tempDir } from '../fixtures.ts';

const root = tempDir('genloom-hostile-');
const at = (name: string) => join(root, name);

function write(name: string, contents: string | Uint8Array): string {
  const path = at(name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, contents);
  return path;
}

/** Runs genloom --quiet with a hard time limit, so a hang fails the test instead of stalling it. */
function run(...args: string[]): { code: number; stderr: string; seconds: number } {
  const started = performance.now();
  const result = spawnSync(process.execPath, [bin, '--quiet', ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, GENLOOM_BACKEND: '' } });
  return { code: result.status ?? -1, stderr: result.stderr, seconds: (performance.now() - started) / 1000 };
}

/** Fails with exactly one stderr line, "genloom: <file>…", matching `pattern`, within a few seconds. */
function refuses(file: string, pattern: RegExp, ...args: string[]): void {
  const { code, stderr, seconds } = run(...args);
  const what = `genloom ${args.join(' ')}`;
  assert.notEqual(code, 0, `${what} should fail`);
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${what}: one line of error, got:\n${stderr}`);
  assert.ok(lines[0]!.includes(file), `${what}: the line names ${file}: ${lines[0]}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /unexpected error/);
  assert.doesNotMatch(stderr, /\n?\s{4}at /, 'no stack trace');
  assert.ok(seconds < 10, `${what} took ${seconds.toFixed(1)} s`);
}

function succeeds(...args: string[]): void {
  const { code, stderr, seconds } = run(...args);
  assert.equal(code, 0, `genloom ${args.join(' ')} failed: ${stderr}`);
  assert.ok(seconds < 20, `took ${seconds.toFixed(1)} s`);
}

/** A format-0 MIDI file of one track from raw [delta, event bytes] pairs (ticksPerBeat `ppq`). */
function rawMidi(events: [number[], number[]][], ppq = 96, tracks = 1): Uint8Array {
  const chunk = (type: string, body: number[]) => [...Buffer.from(type), (body.length >>> 24) & 255, (body.length >>> 16) & 255, (body.length >>> 8) & 255, body.length & 255, ...body];
  const track = [...events.flatMap(([delta, bytes]) => [...delta, ...bytes]), 0, 0xff, 0x2f, 0];
  return Uint8Array.from([...chunk('MThd', [0, 0, tracks >> 8, tracks & 255, ppq >> 8, ppq & 255]), ...chunk('MTrk', track)]);
}

const trainMusic = (dataset: string) => ['train', 'music', '--dataset', dataset, '--preset', 'tiny', '--steps', '1', '--batch-size', '1', '--context', '16', '--out', at('music-model'), '--overwrite'];
const trainText = (dataset: string) => ['train', 'transformer', '--dataset', dataset, '--preset', 'tiny', '--steps', '1', '--batch-size', '1', '--out', at('text-model'), '--overwrite'];
const trainShape = (dataset: string, out = at('shape-model')) => ['train', 'shape', '--dataset', dataset, '--preset', 'tiny', '--resolution', '16', '--steps', '1', '--batch-size', '2', '--out', out, '--overwrite'];

test('MIDI: a note 268M quarters in, a cut file, garbage, no tracks; a 200,000-note primer', () => {
  // 2^28 − 1 ticks at one tick per quarter, after a first note: the largest delta a file can hold.
  const far = write('far.mid', rawMidi([[[0], [0x90, 60, 100]], [[1], [0x80, 60, 0]], [[0xff, 0xff, 0xff, 0x7f], [0x90, 62, 100]], [[1], [0x80, 62, 0]]], 1));
  refuses(far, /far\.mid has a note at quarter note 268435456; genloom reads pieces of at most 50000 quarter notes/, ...trainMusic(far));
  const melody: Note[] = [0, 2, 4, 5, 7, 5, 4, 2].map((step, i) => ({ pitch: 60 + step, start: i / 2, duration: 0.5, velocity: 80 }));
  const cut = write('cut.mid', encodeMidi({ notes: melody, bpm: 120, beatsPerBar: 4 }).subarray(0, 40));
  refuses(cut, /cut\.mid is truncated: a chunk of \d+ bytes at byte \d+ runs past the end of the file \(40 bytes\)/, ...trainMusic(cut));
  const garbage = write('garbage.mid', Uint8Array.from({ length: 3000 }, (_, i) => (i * 2654435761) >>> 24));
  refuses(garbage, /garbage\.mid is not a readable MIDI file \(it starts with 0x[0-9a-f]{2} /, ...trainMusic(garbage));
  const empty = write('no-tracks.mid', rawMidi([[[0], [0x90, 60, 100]], [[96], [0x80, 60, 0]]], 96, 0));
  refuses(empty, /no-tracks\.mid has no tracks \(its header says 0\), so no notes/, ...trainMusic(empty));

  const good = write('melody.mid', encodeMidi({ notes: melody, bpm: 120, beatsPerBar: 4 }));
  succeeds(...trainMusic(good));
  const notes: Note[] = Array.from({ length: 200_000 }, (_, i) => ({ pitch: 40 + (i % 60), start: i / 480, duration: 1 / 480, velocity: 80 }));
  const primer = write('primer.mid', encodeMidi({ notes, bpm: 120, beatsPerBar: 4 }));
  refuses(primer, /the --primer .*primer\.mid has 200000 notes; a primer may have at most 5000: cut it to the opening you want continued/, 'sample', at('music-model'), '--primer', primer, '--bars', '1000', '--out', at('piece.mid'));
});

test('text: only newlines, one character repeated, NUL bytes, not UTF-8, empty, a FIFO; one 20 MB line trains', () => {
  const newlines = write('newlines.txt', '\n'.repeat(5000));
  refuses(newlines, /newlines\.txt holds only whitespace \(5000 characters of spaces and line breaks\): no text to learn from/, ...trainText(newlines));
  const repeated = write('aaa.txt', 'a'.repeat(1000));
  refuses(repeated, /aaa\.txt is one character \("a"\) repeated: a character model needs at least two distinct characters/, ...trainText(repeated));
  const binary = write('binary.txt', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]));
  refuses(binary, /binary\.txt looks binary \(it contains NUL bytes, the first at byte 8\), not text/, ...trainText(binary));
  const latin1 = write('latin1.txt', Buffer.from('caf\xe9 cr\xe8me br\xfbl\xe9e', 'latin1'));
  refuses(latin1, /latin1\.txt is not UTF-8 text/, ...trainText(latin1));
  const empty = write('empty.txt', '');
  refuses(empty, /empty\.txt is empty/, ...trainText(empty));
  const fifo = at('fifo.txt');
  if (spawnSync('mkfifo', [fifo]).status === 0) refuses(fifo, /fifo\.txt is not a regular file \(it is a FIFO\)/, ...trainText(fifo));

  const line = write('line.txt', 'abcdefghij'.repeat(2_000_000));
  succeeds(...trainText(line));
});

test('shapes: NaN coordinates, an empty STL, garbage OBJ, a binary STL count past the file, a PLY of 2^31 vertices; one label folder trains', () => {
  const tetrahedron = (first = 'v 0 0 0') => `${first}\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n`;
  write('chairs/chair/a.obj', tetrahedron());
  write('chairs/chair/b.obj', tetrahedron('v 0 0 0.1'));
  const model = at('chairs-model');
  succeeds(...trainShape(at('chairs'), model));
  assert.equal(readManifest(model).config['classes'], 0, 'one label folder: an unconditional model');

  const nan = write('nan.obj', tetrahedron('v NaN 0 0'));
  refuses(nan, /nan\.obj: a vertex coordinate is not a finite number \(NaN, infinite/, ...trainShape(nan));
  const empty = write('empty.stl', '');
  refuses(empty, /empty\.stl is empty, not an STL file/, ...trainShape(empty));
  const garbage = write('garbage.obj', Uint8Array.from({ length: 4000 }, (_, i) => (i * 2654435761) >>> 24));
  refuses(garbage, /garbage\.obj: no triangles: not a valid OBJ file\?/, ...trainShape(garbage));
  const stl = Buffer.alloc(84 + 50);
  stl.writeUInt32LE(3_000_000, 80);
  const cut = write('cut.stl', stl);
  refuses(cut, /cut\.stl: its binary STL header promises 3000000 triangles \(150000084 bytes\), but the file has 134 bytes/, ...trainShape(cut));
  const header = 'ply\nformat binary_little_endian 1.0\nelement vertex 2147483648\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n';
  const ply = write('huge.ply', Buffer.concat([Buffer.from(header), Buffer.alloc(64)]));
  refuses(ply, /huge\.ply: its header declares 2147483648 vertex elements, which need at least 25769803776 bytes, but 64 follow the header/, ...trainShape(ply));
  // The same reader behind interpolate's --from.
  refuses(ply, /huge\.ply: its header declares 2147483648 vertex elements/, 'interpolate', model, '--from', ply, '--to', at('chairs/chair/a.obj'), '--frames', '2', '--out', at('morph.gif'));
});
