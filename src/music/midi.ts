/**
 * Notes in and out of standard MIDI files, through @tonejs/midi (format 0 and 1, several tracks,
 * tempo changes). genloom's own note lists count time in quarter notes (beats), read from the file's
 * ticks, so tempo changes never move a note off the beat grid.
 */
import { readFileSync } from 'node:fs';
import tonejsMidi from '@tonejs/midi';
import { GenloomError } from '../core/errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';

const { Midi } = tonejsMidi;

export interface Note {
  /** MIDI pitch 0..127 (60 = middle C). */
  pitch: number;
  /** Onset in quarter notes from the start. */
  start: number;
  /** Length in quarter notes (> 0). */
  duration: number;
  /** MIDI velocity 1..127. */
  velocity: number;
}

export interface Score {
  notes: Note[];
  /** Tempo at the start, in quarter notes per minute. */
  bpm: number;
  /** Beats per bar, from the first time signature (4 when the file has none). */
  beatsPerBar: number;
}

/** Reads a MIDI file's notes (percussion channel skipped); a file that does not parse, or has no notes, is an error naming it. */
export function readMidi(path: string): Score {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new GenloomError('NOT_FOUND', `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  return parseMidi(bytes, path);
}

export function parseMidi(bytes: Uint8Array, name: string): Score {
  let midi: InstanceType<typeof Midi>;
  try {
    midi = new Midi(bytes);
  } catch (error) {
    // The parser throws plain strings ("Bad MIDI file.  Expected 'MHdr', …").
    const reason = error instanceof Error ? error.message : String(error);
    throw new GenloomError('CORRUPT_FILE', `${name} is not a readable MIDI file (${reason.replace(/\s+/g, ' ').trim()})`);
  }
  const ppq = midi.header.ppq;
  if (!(ppq > 0)) throw new GenloomError('UNSUPPORTED', `${name} counts time in SMPTE frames, not beats; genloom reads MIDI files with a ticks-per-quarter-note division`);
  const notes: Note[] = [];
  for (const track of midi.tracks) {
    if (track.instrument.percussion) continue;
    for (const note of track.notes) {
      if (note.durationTicks <= 0) continue;
      notes.push({ pitch: note.midi, start: note.ticks / ppq, duration: note.durationTicks / ppq, velocity: Math.max(1, Math.round(note.velocity * 127)) });
    }
  }
  if (notes.length === 0) throw new GenloomError('EMPTY_DATASET', `${name} has no notes (drums are skipped)`);
  notes.sort((a, b) => a.start - b.start || a.pitch - b.pitch);
  const bpm = midi.header.tempos[0]?.bpm ?? 120;
  const beatsPerBar = midi.header.timeSignatures[0]?.timeSignature?.[0] ?? 4;
  return { notes, bpm, beatsPerBar };
}

/** The bytes of a format-1 MIDI file with one piano track (480 ticks per quarter note). */
export function encodeMidi(score: Score, trackName = 'genloom'): Uint8Array {
  const midi = new Midi();
  const ppq = midi.header.ppq;
  midi.header.setTempo(score.bpm);
  midi.header.timeSignatures.push({ ticks: 0, timeSignature: [score.beatsPerBar, 4] });
  midi.header.update();
  const track = midi.addTrack();
  track.name = trackName;
  track.channel = 0;
  track.instrument.number = 0;
  for (const note of score.notes) {
    track.addNote({
      midi: note.pitch,
      ticks: Math.round(note.start * ppq),
      durationTicks: Math.max(1, Math.round(note.duration * ppq)),
      // tonejs writes floor(v·127): half a step up keeps integer velocities exact.
      velocity: Math.min(1, (note.velocity + 0.5) / 127),
    });
  }
  return midi.toArray();
}

export function writeMidi(path: string, score: Score): void {
  writeFileAtomic(path, encodeMidi(score));
}
