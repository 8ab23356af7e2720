/**
 * The music and PixelCNN commands as a user runs them, on data the test writes: a small piano-roll
 * file in the JSB Chorales format, a folder of MIDI files by style (with a broken one), and MNIST.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readImage, writePng } from '../io/image.ts';
import { readMidi, writeMidi, type Note } from '../music/midi.ts';
import { readManifest } from '../io/checkpoint.ts';
import { fails, genloom, ok } from '../../test/cli.ts';
import { tempDir } from '../../test/fixtures.ts';

const root = tempDir();
const out = (name: string) => join(root, name);

/** Chorale-like pieces on a quarter-note grid: a chord progression with a moving top voice. */
function chorale(seed: number, length: number): number[][] {
  const chords = [[48, 55, 64, 72], [53, 57, 65, 72], [55, 59, 62, 74], [48, 55, 64, 76]];
  return Array.from({ length }, (_, t) => {
    const chord = chords[(t + seed) % chords.length]!;
    return t % 7 === 6 ? [] : [...chord.slice(0, 3), chord[3]! + ((t * seed) % 3)];
  });
}

const pianoRoll = out('tiny-chorales-quarter.json');
writeFileSync(pianoRoll, JSON.stringify({ train: [1, 2, 3, 4].map((seed) => chorale(seed, 24)), valid: [chorale(5, 16)], test: [chorale(6, 20), chorale(7, 12)] }));

const melody = (offset: number): Note[] => [0, 2, 4, 5, 7, 5, 4, 2].map((step, i) => ({ pitch: 60 + offset + step, start: i / 2, duration: 0.5, velocity: 60 + 8 * i }));

test('train music on a piano roll → sample MIDI + WAV + piano roll by style and seed → eval the frame NLL; bad requests fail clearly', () => {
  const model = out('bach');
  ok('--quiet', 'train', 'music', '--dataset', pianoRoll, '--preset', 'tiny', '--steps', '6', '--batch-size', '2', '--context', '16', '--out', model, '--seed', '1');
  const manifest = readManifest(model);
  assert.deepEqual(manifest.training['styles'], ['bach']);
  assert.equal(manifest.config['stepsPerQuarter'], 1, 'a "quarter" file is on a quarter-note grid');
  assert.ok(existsSync(join(model, 'samples.mid')) && existsSync(join(model, 'samples.png')), 'a progress piece at the checkpoint');

  ok('--quiet', 'sample', model, '--style', 'bach', '--bars', '3', '--temperature', '0.9', '--seed', '2', '--out', out('piece.mid'));
  for (const file of ['piece.mid', 'piece.wav', 'piece.png']) assert.ok(existsSync(out(file)), `${file} written`);
  const piece = readMidi(out('piece.mid'));
  assert.ok(Math.max(...piece.notes.map((note) => note.start + note.duration)) <= 12 + 1e-9, 'no longer than 3 bars of 4/4');
  assert.equal(piece.bpm, 100);
  assert.ok(readImage(out('piece.png')).width > 0);
  ok('--quiet', 'sample', model, '--style', 'bach', '--bars', '3', '--temperature', '0.9', '--seed', '2', '--out', out('again.mid'));
  assert.deepEqual(readFileSync(out('again.mid')), readFileSync(out('piece.mid')), 'same seed, same piece');
  ok('--quiet', 'sample', model, '--n', '2', '--seconds', '4', '--out', out('pair.mid'));
  assert.ok(existsSync(out('pair-1.mid')) && existsSync(out('pair-2.wav')), '--n 2 writes NAME-1, NAME-2');

  writeMidi(out('long.mid'), { notes: melody(0).map((note) => ({ ...note, start: note.start * 4 })), bpm: 100, beatsPerBar: 4 });
  fails(/the --primer lasts 3\.8 bars, not shorter than the requested piece of 2\.0 bars/, 'sample', model, '--primer', out('long.mid'), '--bars', '2', '--out', out('z.mid'));
  fails(/unknown style "mozart": .* was trained on bach/, 'sample', model, '--style', 'mozart', '--out', out('z.mid'));
  fails(/--label is not for .*, a music model/, 'sample', model, '--label', '3', '--out', out('z.mid'));
  fails(/--out names the MIDI file to write/, 'sample', model, '--out', out('z.png'));
  fails(/give --bars or --seconds, not both/, 'sample', model, '--bars', '2', '--seconds', '3', '--out', out('z.mid'));

  const report = JSON.parse(ok('eval', model, '--json', '--samples', '100')) as Record<string, unknown>;
  assert.equal(report['frames'], 32, 'every test frame counts');
  assert.ok(typeof report['frameNll'] === 'number' && (report['frameNll'] as number) > 0);
  assert.ok((report['eventAccuracy'] as number) >= 0 && (report['eventAccuracy'] as number) <= 1);
  assert.equal((report['noteStatistics'] as { samples: { pieces: number } }).samples.pieces, 100);
});

test('a MIDI folder with style subfolders trains on the good files, lists the bad ones, and composes by style', () => {
  const folder = out('midi');
  for (const [style, offsets] of [['bach', [0, 2, 4]], ['satie', [-5, -3]]] as const) {
    mkdirSync(join(folder, style), { recursive: true });
    offsets.forEach((offset, i) => writeMidi(join(folder, style, `${i}.mid`), { notes: melody(offset), bpm: 80, beatsPerBar: 3 }));
  }
  writeFileSync(join(folder, 'satie', 'broken.mid'), 'this is not MIDI');
  writeFileSync(join(folder, 'bach', 'cut.mid'), Buffer.from(readFileSync(join(folder, 'bach', '0.mid'))).subarray(0, 14));
  const model = out('styles');
  const result = genloom('train', 'music', '--dataset', folder, '--style-from-subfolders', '--preset', 'tiny', '--steps', '4', '--batch-size', '2', '--out', model);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /skipped 2 file\(s\)/);
  assert.match(result.stderr, /\n  .*broken\.mid is not a readable MIDI file \(it starts with "this", not "MThd"\)/);
  assert.match(result.stderr, /\n  .*cut\.mid is truncated: its header promises 2 track\(s\) but it holds 0/);
  const manifest = readManifest(model);
  assert.deepEqual(manifest.training['styles'], ['bach', 'satie']);
  assert.equal(manifest.training['bpm'], 80);
  assert.equal(manifest.training['beatsPerBar'], 3);
  ok('--quiet', 'sample', model, '--style', 'satie', '--bars', '2', '--out', out('satie.mid'));
  assert.ok(readMidi(out('satie.mid')).notes.every((note) => note.start + note.duration <= 6 + 1e-9), 'two bars of 3/4');

  fails(/not a readable MIDI file/, 'train', 'music', '--dataset', join(folder, 'satie', 'broken.mid'), '--out', out('x'));
  mkdirSync(out('bad-only'));
  writeFileSync(join(out('bad-only'), 'a.mid'), 'nope');
  fails(/no readable MIDI files with notes in .*bad-only \(1 skipped/, 'train', 'music', '--dataset', out('bad-only'), '--out', out('x'));
  writeFileSync(out('not-a-roll-quarter.json'), JSON.stringify({ train: [[[60, 'C4']]] }));
  fails(/not-a-roll-quarter\.json: train\[0\], frame 0: expected a list of MIDI pitches/, 'train', 'music', '--dataset', out('not-a-roll-quarter.json'), '--out', out('x'));
  fails(/broken\.mid is not a readable MIDI file/, 'sample', model, '--primer', join(folder, 'satie', 'broken.mid'), '--out', out('z.mid'));
  fails(/--style-from-subfolders needs a folder/, 'train', 'music', '--dataset', pianoRoll, '--style-from-subfolders', '--out', out('x'));
});

test('train pixelcnn → sample, complete from the top rows, eval NLL in nats and bits/dim; misuse fails clearly', () => {
  const model = out('pcnn');
  ok('--quiet', 'train', 'pixelcnn', '--dataset', 'mnist', '--preset', 'tiny', '--steps', '3', '--batch-size', '8', '--out', model);
  ok('sample', model, '--n', '2', '--seed', '1', '--out', out('digits.png'));
  ok('sample', model, '--n', '2', '--seed', '1', '--out', out('digits-again.png'));
  assert.deepEqual(readFileSync(out('digits.png')), readFileSync(out('digits-again.png')), 'same seed, same digits');
  ok('complete', model, '--input', out('digits.png'), '--rows', '20', '--n', '3', '--out', out('completed.png'));
  const grid = readImage(out('completed.png'));
  assert.ok(grid.width > 2 * 28, 'the kept rows and three completions');
  const report = JSON.parse(ok('eval', model, '--json', '--limit', '20')) as Record<string, number>;
  assert.equal(report['images'], 20);
  assert.ok(Math.abs(report['bitsPerDim']! - report['nll']! / (784 * Math.LN2)) < 1e-3, 'bits/dim = nats / (784 ln 2)');
  fails(/--rows must be 1\.\.27 for .*pcnn's 28-row images; got 28/, 'complete', model, '--input', out('digits.png'), '--rows', '28', '--out', out('z.png'));
  fails(/--bars is not for .*, a pixelcnn model \(it is for music models\)/, 'sample', model, '--bars', '3', '--out', out('z.png'));
  fails(/a PixelCNN models black-and-white images/, 'train', 'pixelcnn', '--dataset', writeColourFolder(), '--steps', '1', '--out', out('colour'));
  fails(/is a music model; complete needs a PixelCNN/, 'complete', out('bach'), '--input', out('digits.png'), '--out', out('z.png'));
});

function writeColourFolder(): string {
  const dir = out('colour-images');
  mkdirSync(join(dir, 'a'), { recursive: true });
  for (let i = 0; i < 4; i++) writePng(join(dir, 'a', `${i}.png`), { width: 8, height: 8, channels: 3, data: Float32Array.from({ length: 192 }, (_, k) => (k % 3 === 0 ? 1 : 0.1 * i)) });
  return dir;
}
