/**
 * Hostile and broken MIDI files (issue 27): each is refused with one line naming the file and the
 * problem, quickly and without a large allocation; long and dense files that are real still read.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { GenloomError, type GenloomErrorCode } from '../core/errors.ts';
import { tempDir } from '../../test/fixtures.ts';
import { notesToEvents } from './events.ts';
import { encodeMidi, maxMidiBytes, maxPieceQuarters, maxPrimerNotes, parseMidi, readMidi, readPrimer, type Note } from './midi.ts';
import { pianoRollImage } from './piano-roll.ts';
import { renderNotes } from './audio.ts';

const dir = tempDir('genloom-midi-input-');

/** A MIDI variable-length quantity. */
function vlq(value: number): number[] {
  const out = [value & 0x7f];
  for (let rest = Math.floor(value / 128); rest > 0; rest = Math.floor(rest / 128)) out.unshift((rest & 0x7f) | 0x80);
  return out;
}

function chunk(type: string, body: number[]): number[] {
  const length = body.length;
  return [...Buffer.from(type, 'ascii'), (length >>> 24) & 255, (length >>> 16) & 255, (length >>> 8) & 255, length & 255, ...body];
}

/** A format-0 file of one track: [delta bytes, event bytes] pairs, then the end of the track. */
function rawMidi(events: [number[], number[]][], { ppq = 96, tracks = 1 } = {}): Uint8Array {
  const track = events.flatMap(([delta, bytes]) => [...delta, ...bytes]);
  return Uint8Array.from([...chunk('MThd', [0, 0, tracks >> 8, tracks & 255, ppq >> 8, ppq & 255]), ...chunk('MTrk', [...track, 0, 0xff, 0x2f, 0])]);
}

const note = (delta: number, pitch = 60): [number[], number[]][] => [[vlq(0), [0x90, pitch, 100]], [vlq(delta), [0x80, pitch, 0]]];

function refuses(bytes: Uint8Array, code: GenloomErrorCode, pattern: RegExp): void {
  assert.throws(
    () => parseMidi(bytes, 'bad.mid'),
    (error: unknown) => {
      assert.ok(error instanceof GenloomError, `a GenloomError, got ${String(error)}`);
      assert.equal(error.code, code, error.message);
      assert.match(error.message, /^bad\.mid /);
      assert.match(error.message, pattern);
      assert.doesNotMatch(error.message, /[\u0000-\u001f]/, 'one printable line');
      return true;
    },
  );
}

test('broken headers and chunks: empty, not MIDI, short, no tracks, no division, a foreign chunk, cut short', () => {
  refuses(new Uint8Array(0), 'CORRUPT_FILE', /is empty, not a MIDI file/);
  refuses(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), 'CORRUPT_FILE', /is not a readable MIDI file \(it starts with 0x89 0x50 0x4e 0x47, not "MThd"\)/);
  refuses(Uint8Array.from(Buffer.from('RIFF....RMIDdata')), 'CORRUPT_FILE', /it starts with "RIFF", not "MThd"\)/);
  refuses(Uint8Array.from(Buffer.from('MThd\0\0')), 'CORRUPT_FILE', /is truncated: 6 bytes, shorter than a MIDI header/);
  refuses(Uint8Array.from([...chunk('MThd', [0, 0, 0, 1]), 0, 0, 0, 0]), 'CORRUPT_FILE', /its header chunk holds 4 bytes, fewer than the 6/);
  refuses(rawMidi(note(96), { tracks: 0 }), 'EMPTY_DATASET', /has no tracks \(its header says 0\)/);
  refuses(rawMidi(note(96), { ppq: 0 }), 'CORRUPT_FILE', /0 ticks per quarter note/);
  const foreign = rawMidi(note(96));
  foreign.set(Buffer.from('XFIH'), 14);
  refuses(foreign, 'CORRUPT_FILE', /the chunk at byte 14 is "XFIH" where track 1 \("MTrk"\) should be/);
  refuses(rawMidi(note(96)).subarray(0, 24), 'CORRUPT_FILE', /is truncated: a chunk of \d+ bytes at byte 14 runs past the end/);
  refuses(rawMidi(note(96), { tracks: 2 }), 'CORRUPT_FILE', /its header promises 2 track\(s\) but it holds 1/);
});

test('broken events: garbage bytes, a data byte above 127, an overflowing delta, a zero tempo, a 0/4 metre', () => {
  refuses(Uint8Array.from([...chunk('MThd', [0, 0, 0, 1, 0, 96]), ...chunk('MTrk', [0, 0xf4, 1, 2, 3])]), 'CORRUPT_FILE', /is not a readable MIDI file \(Unrecognised MIDI event type byte: 244\)/);
  refuses(rawMidi([[vlq(0), [0x90, 200, 100]], [vlq(96), [0x80, 60, 0]]]), 'CORRUPT_FILE', /a note event in track 1 at tick 0 has a pitch or velocity outside MIDI's 0\.\.127/);
  // Five bytes of delta: the parser's 32-bit shift overflows into a negative time.
  refuses(rawMidi([[[0x8f, 0xff, 0xff, 0xff, 0x7f], [0x90, 60, 100]], [vlq(96), [0x80, 60, 0]]]), 'CORRUPT_FILE', /track 1 has a negative or unreadable delta time/);
  refuses(rawMidi([[vlq(0), [0xff, 0x51, 3, 0, 0, 0]], ...note(96)]), 'CORRUPT_FILE', /its tempo is 0 microseconds per quarter note/);
  refuses(rawMidi([[vlq(0), [0xff, 0x58, 4, 0, 2, 24, 8]], ...note(96)]), 'CORRUPT_FILE', /its time signature 0\/4 is not a metre/);
  refuses(rawMidi([[vlq(0), [0xff, 0x2f, 0]]]), 'EMPTY_DATASET', /has no notes/);
});

test('a note far past any real piece is refused at once, naming the limit; a long real piece still reads', () => {
  // 2^28 − 1 ticks at 1 tick per quarter: the largest delta a file can hold.
  const started = performance.now();
  refuses(rawMidi(note(0x0fffffff), { ppq: 1 }), 'UNSUPPORTED', new RegExp(`has a note at quarter note 268435455; genloom reads pieces of at most ${maxPieceQuarters} quarter notes`));
  refuses(rawMidi([...note(1), ...note(0x0fffffff)], { ppq: 1 }), 'UNSUPPORTED', /has a note at quarter note 268435456/);
  assert.ok(performance.now() - started < 1000, 'refused before anything the size of the span is made');
  const long = parseMidi(rawMidi([...note(1), [vlq(maxPieceQuarters - 2), [0x90, 62, 100]], [vlq(1), [0x80, 62, 0]]], { ppq: 1 }), 'long.mid');
  assert.deepEqual(long.notes.at(-1), { pitch: 62, start: maxPieceQuarters - 1, duration: 1, velocity: 100 });
  // Its events are a long run of shifts (one per step to the last note's end, plus two ons and two
  // offs): built in a loop, never spread as arguments.
  const events = notesToEvents(long.notes, { stepsPerQuarter: 96, maxShift: 1, velocityBins: 0 });
  assert.equal(events.length, 4 + maxPieceQuarters * 96);
});

test('200,000 notes read in one pass (not tonejs\'s quadratic pairing), and draw and render without spreading them as arguments', () => {
  const notes: Note[] = Array.from({ length: 200_000 }, (_, i) => ({ pitch: 40 + (i % 60), start: i / 480, duration: 1 / 480, velocity: 80 }));
  const bytes = encodeMidi({ notes, bpm: 120, beatsPerBar: 4 });
  const started = performance.now();
  const score = parseMidi(bytes, 'dense.mid');
  assert.equal(score.notes.length, notes.length);
  assert.ok(performance.now() - started < 5000, `read in ${Math.round(performance.now() - started)} ms`);
  assert.ok(pianoRollImage(score.notes).width > 0);
  assert.ok(renderNotes(score.notes.slice(0, 150_000).map((n) => ({ ...n, duration: 0 })), { bpm: 120, sampleRate: 100 }).length > 0);
});

test('a long piece draws as a picture of bounded width', () => {
  const image = pianoRollImage([{ pitch: 60, start: 0, duration: 1, velocity: 80 }, { pitch: 62, start: 20_000, duration: 1, velocity: 80 }]);
  assert.ok(image.width <= 16_384, `width ${image.width}`);
});

test('a note list with a non-finite time is refused rather than turned into endless shifts', () => {
  assert.throws(() => notesToEvents([{ pitch: 60, start: Infinity, duration: 1, velocity: 80 }], { stepsPerQuarter: 4, maxShift: 16, velocityBins: 0 }), /times must be finite/);
});

test('readMidi refuses a file too large to be music before reading it; readPrimer refuses a primer of too many notes', () => {
  const huge = join(dir, 'huge.mid');
  writeFileSync(huge, Buffer.alloc(maxMidiBytes + 1));
  assert.throws(() => readMidi(huge), (error: GenloomError) => error.code === 'CORRUPT_FILE' && /huge\.mid is 8 MB; genloom reads MIDI files up to 8 MB/.test(error.message));
  const fifo = join(dir, 'fifo.mid');
  if (spawnSync('mkfifo', [fifo]).status === 0) {
    assert.throws(() => readMidi(fifo), /fifo\.mid is not a regular file \(it is a FIFO\)/, 'refused, not waited on');
  }
  const primer = join(dir, 'primer.mid');
  const notes: Note[] = Array.from({ length: maxPrimerNotes + 1 }, (_, i) => ({ pitch: 60 + (i % 12), start: i / 4, duration: 0.25, velocity: 80 }));
  writeFileSync(primer, encodeMidi({ notes, bpm: 120, beatsPerBar: 4 }));
  assert.throws(
    () => readPrimer(primer),
    (error: GenloomError) => error.code === 'BAD_ARGUMENT' && error.render((field) => `--${field}`).includes(`the --primer ${primer} has ${maxPrimerNotes + 1} notes; a primer may have at most ${maxPrimerNotes}`),
  );
  writeFileSync(primer, encodeMidi({ notes: notes.slice(0, maxPrimerNotes), bpm: 120, beatsPerBar: 4 }));
  assert.equal(readPrimer(primer).length, maxPrimerNotes);
});
