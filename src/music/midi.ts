/**
 * Notes in and out of standard MIDI files (format 0 and 1, several tracks, tempo changes): read with
 * midi-file's event parser, written with @tonejs/midi. genloom's own note lists count time in
 * quarter notes (beats), read from the file's ticks, so tempo changes never move a note off the
 * beat grid.
 */
import tonejsMidi from '@tonejs/midi';
import { parseMidi as parseMidiEvents, type MidiData } from 'midi-file';
import { GenloomError } from '../core/errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { readRegularFile } from '../io/regular-file.ts';

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

/**
 * Bounds on what a MIDI file may hold, so a corrupt or hostile file is refused in well under a second
 * instead of taking minutes or gigabytes. Real pieces are kilobytes to a few hundred KiB and last
 * minutes; the parser makes an object per event (~100 bytes each), so 8 MiB is already ~3M events.
 */
export const maxMidiBytes = 8 * 2 ** 20;
/**
 * The latest a note may end, in quarter notes: about 7 hours at 120 bpm (12,500 bars of 4/4), far
 * past any real piece, yet small enough that its events and piano roll fit in memory. A note
 * "268 million quarters in" is a corrupt delta time, not music.
 */
export const maxPieceQuarters = 50_000;
/**
 * The most notes a primer may hold. A primer is the opening a model continues, fed to the network in
 * one pass before the first event is drawn: 5,000 notes (several minutes of dense piano) take a few
 * seconds on a small model; hundreds of thousands would take minutes and gigabytes.
 */
export const maxPrimerNotes = 5_000;

/** Reads a MIDI file's notes (percussion channel skipped); a file that does not parse, or has no notes, is an error naming it. */
export function readMidi(path: string): Score {
  // A regular file only (a FIFO would block forever), refused by its size before it is read.
  return parseMidi(readRegularFile(path, { maxBytes: maxMidiBytes, what: 'MIDI files' }), path);
}

/**
 * A primer for a music model: a MIDI file read as by `readMidi`, refused (before anything is fed to
 * a network) when it holds more than `maxPrimerNotes` notes.
 */
export function readPrimer(path: string): Note[] {
  const { notes } = readMidi(path);
  if (notes.length > maxPrimerNotes) {
    throw new GenloomError('BAD_ARGUMENT', `the {primer} ${path} has ${notes.length} notes; a primer may have at most ${maxPrimerNotes}: cut it to the opening you want continued`);
  }
  return notes;
}

/**
 * Notes of a standard MIDI file's bytes. The chunks are checked first (a file cut short, a lying
 * header), then midi-file reads the events and this pairs note-ons with note-offs itself, in one
 * pass: @tonejs/midi's reader pairs them by searching lists (quadratic: 21 s for 200,000 notes).
 * The pairing is the same as tonejs's: per channel and pitch, each note-off (or note-on of velocity
 * 0) ends the earliest note still sounding; a note-on that never ends is dropped.
 */
export function parseMidi(bytes: Uint8Array, name: string): Score {
  const ppq = checkHeader(bytes, name);
  checkChunks(bytes, name);
  let midi: MidiData;
  try {
    midi = parseMidiEvents(bytes);
  } catch (error) {
    // The parser throws plain strings ("Unrecognised MIDI event type byte: 244", …).
    const reason = error instanceof Error ? error.message : String(error);
    throw new GenloomError('CORRUPT_FILE', `${name} is not a readable MIDI file (${printable(reason)})`);
  }
  const notes: Note[] = [];
  const tempos: { ticks: number; microsecondsPerBeat: number }[] = [];
  const metres: { ticks: number; numerator: number; denominator: number }[] = [];
  const maxTicks = maxPieceQuarters * ppq;
  midi.tracks.forEach((events, track) => {
    // Sounding notes by channel · 128 + pitch, oldest first: [start tick, velocity, …] and a read position.
    const sounding = new Map<number, { pending: number[]; head: number }>();
    let ticks = 0;
    for (const event of events) {
      // A delta is at most 4 bytes (2^28 − 1); a longer one overflows the parser's 32-bit shift.
      if (!(event.deltaTime >= 0)) throw new GenloomError('CORRUPT_FILE', `${name} is corrupt: track ${track + 1} has a negative or unreadable delta time`);
      ticks += event.deltaTime;
      if (event.type === 'setTempo') tempos.push({ ticks, microsecondsPerBeat: event.microsecondsPerBeat });
      else if (event.type === 'timeSignature') metres.push({ ticks, numerator: event.numerator, denominator: event.denominator });
      if (event.type !== 'noteOn' && event.type !== 'noteOff') continue;
      if (!(event.noteNumber >= 0 && event.noteNumber <= 127 && event.velocity >= 0 && event.velocity <= 127)) {
        throw new GenloomError('CORRUPT_FILE', `${name} is corrupt: a note event in track ${track + 1} at tick ${ticks} has a pitch or velocity outside MIDI's 0..127`);
      }
      if (ticks > maxTicks) {
        throw new GenloomError('UNSUPPORTED', `${name} has a note at quarter note ${Math.round(ticks / ppq)}; genloom reads pieces of at most ${maxPieceQuarters} quarter notes (about 7 hours at 120 bpm): its timing is probably corrupt`);
      }
      if (event.channel === 9) continue; // General MIDI percussion: drums, not pitches
      const key = event.channel * 128 + event.noteNumber;
      let queue = sounding.get(key);
      if (event.type === 'noteOn') {
        if (!queue) sounding.set(key, (queue = { pending: [], head: 0 }));
        queue.pending.push(ticks, event.velocity);
        continue;
      }
      if (!queue || queue.head === queue.pending.length) continue; // an off with nothing sounding
      const start = queue.pending[queue.head]!;
      const velocity = queue.pending[queue.head + 1]!;
      queue.head += 2;
      if (queue.head === queue.pending.length) sounding.delete(key);
      if (ticks > start) notes.push({ pitch: event.noteNumber, start: start / ppq, duration: (ticks - start) / ppq, velocity: Math.max(1, velocity) });
    }
  });
  if (notes.length === 0) throw new GenloomError('EMPTY_DATASET', `${name} has no notes (drums are skipped)`);
  // A total order, so the notes come out the same however the file spreads them over tracks.
  notes.sort((a, b) => a.start - b.start || a.pitch - b.pitch || a.duration - b.duration || a.velocity - b.velocity);
  // The first tempo and metre in time (the first in the file among equal times), as tonejs reads them.
  const tempo = earliest(tempos);
  if (tempo && !(tempo.microsecondsPerBeat > 0)) throw new GenloomError('CORRUPT_FILE', `${name} is corrupt: its tempo is 0 microseconds per quarter note`);
  // Files store microseconds per beat: 90 bpm reads back as 90.00009.
  const bpm = tempo ? Math.round((60_000_000 / tempo.microsecondsPerBeat) * 1000) / 1000 : 120;
  const metre = earliest(metres) ?? { numerator: 4, denominator: 4 };
  // The denominator is stored as a power of two; past 2^6 the parser's shift wraps round.
  if (!(metre.numerator >= 1 && metre.denominator >= 1 && metre.denominator <= 64)) {
    throw new GenloomError('CORRUPT_FILE', `${name} is corrupt: its time signature ${metre.numerator}/${metre.denominator} is not a metre`);
  }
  // Bars in quarter notes: 6/8 is 3 quarters, 2/2 is 4.
  const beatsPerBar = (metre.numerator * 4) / metre.denominator;
  return { notes, bpm, beatsPerBar };
}

function earliest<T extends { ticks: number }>(list: T[]): T | undefined {
  let first: T | undefined;
  for (const item of list) if (!first || item.ticks < first.ticks) first = item;
  return first;
}

/** Text from a file for a one-line message: control characters and line breaks shown as '?', at most 80 characters. */
function printable(text: string): string {
  const flat = text.replace(/\s+/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, '?').trim();
  return flat.length > 80 ? `${flat.slice(0, 79)}…` : flat;
}

/** Four bytes as text when they are printable ASCII ("RIFF"), or as hex. */
function describeBytes(bytes: Uint8Array): string {
  const ascii = bytes.every((byte) => byte >= 0x20 && byte < 0x7f);
  return ascii ? JSON.stringify(String.fromCharCode(...bytes)) : Array.from(bytes, (byte) => `0x${byte.toString(16).padStart(2, '0')}`).join(' ');
}

/** The header chunk's checks; returns the ticks per quarter note. */
function checkHeader(bytes: Uint8Array, name: string): number {
  if (bytes.length === 0) throw new GenloomError('CORRUPT_FILE', `${name} is empty, not a MIDI file`);
  const magic = bytes.subarray(0, 4);
  if (String.fromCharCode(...magic) !== 'MThd') throw new GenloomError('CORRUPT_FILE', `${name} is not a readable MIDI file (it starts with ${describeBytes(magic)}, not "MThd")`);
  if (bytes.length < 14) throw new GenloomError('CORRUPT_FILE', `${name} is truncated: ${bytes.length} bytes, shorter than a MIDI header (14)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(4);
  if (headerLength < 6) throw new GenloomError('CORRUPT_FILE', `${name} is corrupt: its header chunk holds ${headerLength} bytes, fewer than the 6 of a MIDI header`);
  if (view.getUint16(10) === 0) throw new GenloomError('EMPTY_DATASET', `${name} has no tracks (its header says 0), so no notes`);
  const division = view.getUint16(12);
  if (division & 0x8000) throw new GenloomError('UNSUPPORTED', `${name} counts time in SMPTE frames, not beats; genloom reads MIDI files with a ticks-per-quarter-note division`);
  if (division === 0) throw new GenloomError('CORRUPT_FILE', `${name} is corrupt: its header gives 0 ticks per quarter note`);
  return division;
}

/**
 * Every promised track must be there, whole, and be a track: a file cut short (a download or copy
 * that stopped) would otherwise parse as fewer notes.
 */
function checkChunks(bytes: Uint8Array, name: string): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const promised = view.getUint16(10);
  let tracks = -1; // the header is the first chunk
  // Bytes after the promised tracks (padding some writers add) are ignored, as players do.
  for (let offset = 0; offset < bytes.length && tracks < promised; tracks++) {
    if (offset + 8 > bytes.length) throw new GenloomError('CORRUPT_FILE', `${name} is truncated: an incomplete chunk header at byte ${offset}`);
    const type = bytes.subarray(offset, offset + 4);
    if (tracks >= 0 && String.fromCharCode(...type) !== 'MTrk') {
      throw new GenloomError('CORRUPT_FILE', `${name} is corrupt: the chunk at byte ${offset} is ${describeBytes(type)} where track ${tracks + 1} ("MTrk") should be`);
    }
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
