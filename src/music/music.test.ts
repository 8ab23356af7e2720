import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeMidi as writeMidiEvents } from 'midi-file';
import { GenloomError } from '../core/errors.ts';
import { renderNotes, writeWav } from './audio.ts';
import { beginToken, endToken, eventName, eventSteps, eventsToNotes, eventsToPianoRoll, notesToEvents, notesToPianoRoll, pianoRollToEvents, pianoRollToNotes, vocabularySize, type EventEncoding } from './events.ts';
import { encodeMidi, parseMidi, readMidi, writeMidi, type Note } from './midi.ts';
import { pianoRollImage } from './piano-roll.ts';

const dir = mkdtempSync(join(tmpdir(), 'genloom-music-'));
const sixteenths: EventEncoding = { stepsPerQuarter: 4, maxShift: 16, velocityBins: 32 };

const chordAndMelody: Note[] = [
  { pitch: 48, start: 0, duration: 4, velocity: 50 },
  { pitch: 60, start: 0, duration: 1, velocity: 100 },
  { pitch: 64, start: 1, duration: 0.5, velocity: 90 },
  { pitch: 64, start: 1.5, duration: 0.25, velocity: 90 }, // a repeat of a sounding pitch
  { pitch: 67, start: 2, duration: 1.75, velocity: 127 },
  { pitch: 72, start: 9, duration: 1, velocity: 1 }, // after a rest longer than one shift
];

test('MIDI write → read keeps notes, timing, velocities, tempo and metre', () => {
  const path = join(dir, 'round.mid');
  writeMidi(path, { notes: chordAndMelody, bpm: 90, beatsPerBar: 3 });
  const back = readMidi(path);
  assert.equal(back.bpm, 90);
  assert.equal(back.beatsPerBar, 3);
  assert.deepEqual(back.notes, [...chordAndMelody].sort((a, b) => a.start - b.start || a.pitch - b.pitch));
  assert.equal(readFileSync(path).subarray(0, 4).toString('ascii'), 'MThd');
});

test('a format-0 file with running status, note-on velocity 0 as note-off, a tempo change and drums reads in beats', () => {
  const ticks = 96;
  const bytes = writeMidiEvents(
    {
      header: { format: 0, numTracks: 1, ticksPerBeat: ticks },
      tracks: [
        [
          { deltaTime: 0, meta: true, type: 'setTempo', microsecondsPerBeat: 500_000 },
          { deltaTime: 0, channel: 0, type: 'noteOn', noteNumber: 60, velocity: 64 },
          { deltaTime: ticks, channel: 0, type: 'noteOn', noteNumber: 60, velocity: 0 },
          { deltaTime: 0, meta: true, type: 'setTempo', microsecondsPerBeat: 1_000_000 },
          { deltaTime: 0, channel: 9, type: 'noteOn', noteNumber: 36, velocity: 100 },
          { deltaTime: 0, channel: 1, type: 'noteOn', noteNumber: 67, velocity: 80 },
          { deltaTime: 2 * ticks, channel: 1, type: 'noteOff', noteNumber: 67, velocity: 0 },
          { deltaTime: 0, channel: 9, type: 'noteOff', noteNumber: 36, velocity: 0 },
          { deltaTime: 0, meta: true, type: 'endOfTrack' },
        ],
      ],
    } as Parameters<typeof writeMidiEvents>[0],
    { running: true },
  );
  const score = parseMidi(Uint8Array.from(bytes), 'format0.mid');
  assert.equal(score.bpm, 120);
  assert.deepEqual(score.notes, [
    { pitch: 60, start: 0, duration: 1, velocity: 64 },
    { pitch: 67, start: 1, duration: 2, velocity: 80 },
  ]);
});

test('bars follow the time signature in quarter notes (6/8 is 3, 2/2 is 4), and bytes after the last track are ignored', () => {
  for (const [numerator, denominator, quarters] of [[6, 8, 3], [2, 2, 4], [3, 4, 3]] as const) {
    const bytes = writeMidiEvents(
      {
        header: { format: 0, numTracks: 1, ticksPerBeat: 96 },
        tracks: [[
          { deltaTime: 0, meta: true, type: 'timeSignature', numerator, denominator, metronome: 24, thirtyseconds: 8 },
          { deltaTime: 0, channel: 0, type: 'noteOn', noteNumber: 60, velocity: 64 },
          { deltaTime: 96, channel: 0, type: 'noteOff', noteNumber: 60, velocity: 0 },
          { deltaTime: 0, meta: true, type: 'endOfTrack' },
        ]],
      } as Parameters<typeof writeMidiEvents>[0],
    );
    const padded = Uint8Array.from([...bytes, 0, 0, 0]);
    assert.equal(parseMidi(padded, 'metre.mid').beatsPerBar, quarters, `${numerator}/${denominator}`);
  }
  const path = join(dir, 'three-eight.mid');
  writeMidi(path, { notes: chordAndMelody, bpm: 100, beatsPerBar: 1.5 });
  assert.equal(readMidi(path).beatsPerBar, 1.5, '3/8 written and read back');
});

test('bad MIDI gives one clear error naming the file', () => {
  const garbage = join(dir, 'garbage.mid');
  writeFileSync(garbage, 'not a midi file at all');
  assert.throws(() => readMidi(garbage), (error: GenloomError) => error.code === 'CORRUPT_FILE' && error.message.includes('garbage.mid') && !error.message.includes('\n'));
  const truncated = join(dir, 'truncated.mid');
  writeFileSync(truncated, encodeMidi({ notes: chordAndMelody, bpm: 120, beatsPerBar: 4 }).subarray(0, 40));
  assert.throws(() => readMidi(truncated), (error: GenloomError) => error.code === 'CORRUPT_FILE' && error.message.includes('truncated.mid'));
  const silent = join(dir, 'silent.mid');
  writeFileSync(silent, encodeMidi({ notes: [], bpm: 120, beatsPerBar: 4 }));
  assert.throws(() => readMidi(silent), (error: GenloomError) => error.code === 'EMPTY_DATASET' && /silent\.mid has no notes/.test(error.message));
  assert.throws(() => readMidi(join(dir, 'missing.mid')), (error: GenloomError) => error.code === 'NOT_FOUND');
});

test('events: notes → events → notes is exact on the grid, with velocity bins, repeats and long rests', () => {
  const events = notesToEvents(chordAndMelody, sixteenths);
  assert.ok(events.every((id) => id >= 0 && id < vocabularySize(sixteenths)));
  // 9 beats of rest-and-notes before the last note ends at beat 10: 40 steps in all.
  assert.equal(eventSteps(events, sixteenths), 40);
  assert.ok(events.map((id) => eventName(id, sixteenths)).join(' ').includes('NOTE_OFF(64) NOTE_ON(64)'), 'a repeat is an off and an on at the same time');
  const back = eventsToNotes(events, sixteenths);
  const bin = (velocity: number) => 1 + Math.floor((velocity - 1) / 4) * 4;
  assert.deepEqual(back, chordAndMelody.map((note) => ({ ...note, velocity: bin(note.velocity) })));
  // Without velocity events every note plays at the default velocity; BOS/EOS are ignored.
  const plain: EventEncoding = { stepsPerQuarter: 4, maxShift: 8, velocityBins: 0 };
  const ids = [beginToken(plain), ...notesToEvents(chordAndMelody, plain), endToken(plain)];
  assert.deepEqual(eventsToNotes(ids, plain).map((note) => [note.pitch, note.start, note.duration]), chordAndMelody.map((note) => [note.pitch, note.start, note.duration]));
  // Off-grid times snap to the nearest step; a very short note keeps one step.
  assert.deepEqual(eventsToNotes(notesToEvents([{ pitch: 60, start: 0.26, duration: 0.01, velocity: 80 }], plain), plain), [{ pitch: 60, start: 0.25, duration: 0.25, velocity: 80 }]);
});

test('events: a unison doubling is one note lasting to the later end, and later notes of that pitch keep their ends', () => {
  const quarter: EventEncoding = { stepsPerQuarter: 1, maxShift: 8, velocityBins: 0 };
  const doubled: Note[] = [
    { pitch: 60, start: 0, duration: 1, velocity: 80 },
    { pitch: 60, start: 0, duration: 2, velocity: 80 },
    { pitch: 60, start: 3, duration: 1, velocity: 80 },
    { pitch: 62, start: 5, duration: 1, velocity: 80 },
  ];
  assert.deepEqual(eventsToNotes(notesToEvents(doubled, quarter), quarter).map((note) => [note.pitch, note.start, note.duration]), [[60, 0, 2], [60, 3, 1], [62, 5, 1]]);
});

test('piano roll ↔ events both ways: grid → events → grid is exact; events → grid → events loses only repeats', () => {
  const quarter: EventEncoding = { stepsPerQuarter: 1, maxShift: 8, velocityBins: 0 };
  const frames = [[60, 64, 67], [60, 64, 67], [], [62, 65], [62, 65, 69], ...Array.from({ length: 11 }, () => [59]), [], []];
  const events = pianoRollToEvents(frames, quarter);
  assert.deepEqual(eventsToPianoRoll(events, quarter), frames, 'grid → events → grid');
  assert.equal(eventSteps(events, quarter), frames.length, 'trailing silence is kept');
  assert.deepEqual(notesToPianoRoll(pianoRollToNotes(frames, 1), 1, frames.length), frames);
  const noRepeats = notesToEvents([{ pitch: 60, start: 0, duration: 2, velocity: 80 }, { pitch: 64, start: 1, duration: 1, velocity: 80 }], quarter);
  assert.deepEqual(pianoRollToEvents(eventsToPianoRoll(noRepeats, quarter), quarter), noRepeats, 'events → grid → events without repeats');
  const repeated = notesToEvents([{ pitch: 60, start: 0, duration: 1, velocity: 80 }, { pitch: 60, start: 1, duration: 1, velocity: 80 }], quarter);
  assert.deepEqual(eventsToNotes(pianoRollToEvents(eventsToPianoRoll(repeated, quarter), quarter), quarter), [{ pitch: 60, start: 0, duration: 2, velocity: 80 }], 'a repeat becomes one held note');
});

test('WAV: a valid 16-bit PCM header and the duration of the piece plus the release', () => {
  const path = join(dir, 'piece.wav');
  writeWav(path, chordAndMelody, { bpm: 120, sampleRate: 8000 });
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(bytes.subarray(0, 4).toString('ascii'), 'RIFF');
  assert.equal(bytes.subarray(8, 16).toString('ascii'), 'WAVEfmt ');
  assert.equal(view.getUint32(4, true), bytes.length - 8);
  assert.equal(view.getUint16(20, true), 1, 'PCM');
  assert.equal(view.getUint16(22, true), 1, 'mono');
  assert.equal(view.getUint32(24, true), 8000);
  assert.equal(view.getUint32(28, true), 16000, 'byte rate');
  assert.equal(view.getUint16(34, true), 16, 'bits');
  assert.equal(bytes.subarray(36, 40).toString('ascii'), 'data');
  const seconds = view.getUint32(40, true) / 16000;
  // The last note ends at beat 10 = 5 s at 120 bpm, then a 0.25 s release.
  assert.ok(Math.abs(seconds - 5.25) < 0.01, `duration ${seconds} s`);
  const samples = renderNotes(chordAndMelody, { bpm: 120, sampleRate: 8000 });
  const peak = samples.reduce((max, value) => Math.max(max, Math.abs(value)), 0);
  assert.ok(peak > 0.05 && peak <= 0.9 + 1e-6, `audible and not clipped (peak ${peak})`);
  // Silence during the rest between beat 4 (+ release) and beat 9.
  assert.ok(samples.subarray(3.5 * 8000, 4.4 * 8000).every((value) => Math.abs(value) < 1e-6), 'silent in the rest');
});

test('the piano roll image spans the piece and the pitch range', () => {
  const image = pianoRollImage(chordAndMelody, { beatsPerBar: 4, pixelsPerBeat: 10, pixelsPerPitch: 3 });
  assert.equal(image.width, 120, 'three 4/4 bars of 10 px per beat');
  assert.equal(image.height, (72 + 2 - (48 - 2) + 1) * 3);
  assert.equal(image.channels, 3);
});
