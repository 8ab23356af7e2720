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
  /** Quarter notes per bar, from the first time signature (4 when the file has none; 6/8 is 3). */
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
  checkChunks(bytes, name);
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
  // Files store microseconds per beat: 90 bpm reads back as 90.00009.
  const bpm = Math.round((midi.header.tempos[0]?.bpm ?? 120) * 1000) / 1000;
  // Bars in quarter notes: 6/8 is 3 quarters, 2/2 is 4.
  const [numerator, denominator] = midi.header.timeSignatures[0]?.timeSignature ?? [4, 4];
  const beatsPerBar = (numerator! * 4) / denominator!;
  return { notes, bpm, beatsPerBar };
}

/** A file cut short (a download or copy that stopped) still parses in @tonejs/midi, as fewer notes: refuse it. */
function checkChunks(bytes: Uint8Array, name: string): void {
  if (bytes.length < 4 || String.fromCharCode(...bytes.subarray(0, 4)) !== 'MThd') return; // the parser names what it found instead
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const promised = bytes.length >= 12 ? view.getUint16(10) : 0;
  let tracks = -1; // the header is the first chunk
  // Bytes after the promised tracks (padding some writers add) are ignored, as players do.
  for (let offset = 0; offset < bytes.length && tracks < promised; tracks++) {
    if (offset + 8 > bytes.length) throw new GenloomError('CORRUPT_FILE', `${name} is truncated: an incomplete chunk header at byte ${offset}`);
    const length = view.getUint32(offset + 4);
    if (offset + 8 + length > bytes.length) throw new GenloomError('CORRUPT_FILE', `${name} is truncated: a chunk of ${length} bytes at byte ${offset} runs past the end of the file (${bytes.length} bytes)`);
    offset += 8 + length;
  }
  if (tracks < promised) throw new GenloomError('CORRUPT_FILE', `${name} is truncated: its header promises ${promised} track(s) but it holds ${tracks}`);
}

/** The bytes of a format-1 MIDI file with one piano track (480 ticks per quarter note). */
export function encodeMidi(score: Score, trackName = 'genloom'): Uint8Array {
  const midi = new Midi();
  const ppq = midi.header.ppq;
  midi.header.setTempo(score.bpm);
  // A whole number of quarters is n/4; otherwise eighths (3/8, 5/8, …).
  const timeSignature = Number.isInteger(score.beatsPerBar) ? [score.beatsPerBar, 4] : [Math.round(score.beatsPerBar * 2), 8];
  midi.header.timeSignatures.push({ ticks: 0, timeSignature });
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
