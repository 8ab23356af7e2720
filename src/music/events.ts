/**
 * The two representations of music the models read and write, and the conversions between them.
 *
 * Events (after Performance RNN, Oore et al. 2018): a piece is a sequence of NOTE_ON(p),
 * NOTE_OFF(p), TIME_SHIFT(k) and VELOCITY(b) events. One change from Performance RNN: time shifts
 * count grid steps (a fraction of a quarter note, `stepsPerQuarter`) instead of 10 ms, so a bar is a
 * whole number of shifts, the piano-roll grid is a special case, and tempo is a playback setting.
 *
 *   id                              event
 *   0 … 127                         NOTE_ON(pitch)
 *   128 … 255                       NOTE_OFF(pitch)
 *   256 … 256 + maxShift − 1        TIME_SHIFT(1 … maxShift steps)
 *   then velocityBins ids           VELOCITY(bin 1 … velocityBins)  (none when velocityBins = 0)
 *   then BOS, EOS                   start and end of a piece
 *
 * At one time point the events are in a canonical order: offs by pitch, then for each onset its
 * velocity (when the bin changes) and its NOTE_ON, by pitch; then the shift to the next time point
 * (longer gaps are several shifts, the longest first). A repeated note is an off and an on at the
 * same point.
 *
 * Piano roll (the JSB Chorales grid): frames of sounding pitches, one per grid step. It cannot tell
 * a held note from a repeated one; it reads as held. So grid → events → grid is exact, and
 * events → grid → events loses only repeats of a sounding pitch.
 */
import { GenloomError } from '../core/errors.ts';
import type { Note } from './midi.ts';

export interface EventEncoding {
  /** Grid steps per quarter note (4: sixteenth notes). */
  stepsPerQuarter: number;
  /** The longest single TIME_SHIFT, in steps. */
  maxShift: number;
  /** Velocity bins (0: no velocity events; notes play at `defaultVelocity`). */
  velocityBins: number;
}

export const defaultVelocity = 80;
export const noteOffOffset = 128;
export const timeShiftOffset = 256;

export function vocabularySize(encoding: EventEncoding): number {
  return timeShiftOffset + encoding.maxShift + encoding.velocityBins + 2;
}

export function velocityOffset(encoding: EventEncoding): number {
  return timeShiftOffset + encoding.maxShift;
}

export function beginToken(encoding: EventEncoding): number {
  return velocityOffset(encoding) + encoding.velocityBins;
}

export function endToken(encoding: EventEncoding): number {
  return beginToken(encoding) + 1;
}

/** Velocity 1..127 → bin 1..velocityBins, and back to the bin's lowest velocity (Magenta's convention). */
function velocityBin(velocity: number, bins: number): number {
  const size = Math.ceil(127 / bins);
  return Math.min(bins, Math.floor((Math.min(127, Math.max(1, velocity)) - 1) / size) + 1);
}

function binVelocity(bin: number, bins: number): number {
  return 1 + (bin - 1) * Math.ceil(127 / bins);
}

/** Events for notes (quantized to the grid: onsets and ends rounded to the nearest step; a note keeps at least one step). */
export function notesToEvents(notes: readonly Note[], encoding: EventEncoding): number[] {
  const ons = new Map<number, Note[]>();
  const offs = new Map<number, number[]>();
  for (const note of notes) {
    if (!(note.pitch >= 0 && note.pitch <= 127)) throw new GenloomError('BAD_ARGUMENT', `pitch ${note.pitch} is outside MIDI's 0..127`);
    // A non-finite time would need endless shifts.
    if (!Number.isFinite(note.start) || !Number.isFinite(note.duration)) throw new GenloomError('BAD_ARGUMENT', `a note of pitch ${note.pitch} starts at ${note.start} and lasts ${note.duration} quarter notes: times must be finite`);
    const start = Math.round(note.start * encoding.stepsPerQuarter);
    const end = Math.max(start + 1, Math.round((note.start + note.duration) * encoding.stepsPerQuarter));
    push(ons, start, note);
    push(offs, end, note.pitch);
  }
  const times = [...new Set([...ons.keys(), ...offs.keys()])].sort((a, b) => a - b);
  const events: number[] = [];
  // How many notes of each pitch sound now: overlapping notes of one pitch end at their last off.
  const sounding = new Int32Array(128);
  let velocity = -1;
  let now = times[0] !== undefined ? Math.min(0, times[0]) : 0;
  for (const time of times) {
    if (time > now) pushShifts(events, time - now, encoding.maxShift);
    now = time;
    for (const pitch of [...(offs.get(time) ?? [])].sort((a, b) => a - b)) {
      sounding[pitch]!--;
      if (sounding[pitch] === 0) events.push(noteOffOffset + pitch);
    }
    const starting = [...(ons.get(time) ?? [])].sort((a, b) => a.pitch - b.pitch);
    for (let i = 0; i < starting.length; i++) {
      const note = starting[i]!;
      if (i > 0 && starting[i - 1]!.pitch === note.pitch) {
        // A unison doubling is one note, lasting until the later of the two ends.
        sounding[note.pitch]!++;
        continue;
      }
      if (sounding[note.pitch]! > 0) events.push(noteOffOffset + note.pitch); // a repeat: off, then on again
      if (encoding.velocityBins > 0) {
        const bin = velocityBin(note.velocity, encoding.velocityBins);
        if (bin !== velocity) events.push(velocityOffset(encoding) + bin - 1);
        velocity = bin;
      }
      events.push(note.pitch);
      sounding[note.pitch]!++;
    }
  }
  return events;
}

/** Updates which pitches sound (1) after event `id`: a NOTE_ON sets its pitch, a NOTE_OFF clears it. */
export function updateSounding(sounding: Uint8Array, id: number): void {
  if (id < noteOffOffset) sounding[id] = 1;
  else if (id < timeShiftOffset) sounding[id - noteOffOffset] = 0;
}

/**
 * Appends TIME_SHIFT events covering `steps`, the longest first. A loop, not push(...list): a long
 * rest is many shifts, and spreading them as arguments overflows the stack.
 */
function pushShifts(events: number[], steps: number, maxShift: number): void {
  for (let left = steps; left > 0; left -= maxShift) events.push(timeShiftOffset + Math.min(left, maxShift) - 1);
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * Notes from events: offs close the pitch's note, notes still sounding at the end (or at `endStep`)
 * are closed there, BOS/EOS and ids outside the vocabulary are ignored, and zero-length notes dropped.
 */
export function eventsToNotes(events: ArrayLike<number>, encoding: EventEncoding, endStep?: number): Note[] {
  const notes: Note[] = [];
  const open = new Map<number, { start: number; velocity: number }>();
  let step = 0;
  let velocity = defaultVelocity;
  const close = (pitch: number, at: number) => {
    const started = open.get(pitch);
    if (!started) return;
    open.delete(pitch);
    if (at > started.start) notes.push({ pitch, start: started.start / encoding.stepsPerQuarter, duration: (at - started.start) / encoding.stepsPerQuarter, velocity: started.velocity });
  };
  const velocityStart = velocityOffset(encoding);
  for (let i = 0; i < events.length; i++) {
    const id = events[i]!;
    if (id < noteOffOffset) {
      close(id, step); // a NOTE_ON of a sounding pitch restarts it
      open.set(id, { start: step, velocity });
    } else if (id < timeShiftOffset) {
      close(id - noteOffOffset, step);
    } else if (id < velocityStart) {
      step += id - timeShiftOffset + 1;
    } else if (id < velocityStart + encoding.velocityBins) {
      velocity = binVelocity(id - velocityStart + 1, encoding.velocityBins);
    }
  }
  const end = endStep ?? step;
  for (const pitch of [...open.keys()]) close(pitch, Math.max(end, open.get(pitch)!.start + 1));
  return notes.sort((a, b) => a.start - b.start || a.pitch - b.pitch);
}

export function isTimeShift(id: number, encoding: EventEncoding): boolean {
  return id >= timeShiftOffset && id < velocityOffset(encoding);
}

/** Grid steps the events span (the sum of their shifts). */
export function eventSteps(events: ArrayLike<number>, encoding: EventEncoding): number {
  let steps = 0;
  const velocityStart = velocityOffset(encoding);
  for (let i = 0; i < events.length; i++) {
    const id = events[i]!;
    if (id >= timeShiftOffset && id < velocityStart) steps += id - timeShiftOffset + 1;
  }
  return steps;
}

/** A piano roll: frames[t] lists the pitches sounding in step t. */
export type PianoRoll = number[][];

/** Notes of a piano roll: a pitch sounding in consecutive frames is one held note. */
export function pianoRollToNotes(frames: PianoRoll, stepsPerQuarter: number, velocity = defaultVelocity): Note[] {
  const notes: Note[] = [];
  const started = new Map<number, number>();
  const closeAll = (t: number, keep: Set<number>) => {
    for (const [pitch, start] of [...started]) {
      if (keep.has(pitch)) continue;
      notes.push({ pitch, start: start / stepsPerQuarter, duration: (t - start) / stepsPerQuarter, velocity });
      started.delete(pitch);
    }
  };
  frames.forEach((frame, t) => {
    const now = new Set(frame.filter((pitch) => pitch >= 0));
    closeAll(t, now);
    for (const pitch of now) if (!started.has(pitch)) started.set(pitch, t);
  });
  closeAll(frames.length, new Set());
  return notes.sort((a, b) => a.start - b.start || a.pitch - b.pitch);
}

/** The piano roll of notes over `steps` frames (default: until the last note ends). */
export function notesToPianoRoll(notes: readonly Note[], stepsPerQuarter: number, steps?: number): PianoRoll {
  let end = steps ?? 0;
  if (steps === undefined) for (const note of notes) end = Math.max(end, Math.round((note.start + note.duration) * stepsPerQuarter));
  const frames: Set<number>[] = Array.from({ length: end }, () => new Set());
  for (const note of notes) {
    const start = Math.round(note.start * stepsPerQuarter);
    const stop = Math.max(start + 1, Math.round((note.start + note.duration) * stepsPerQuarter));
    for (let t = Math.max(0, start); t < Math.min(end, stop); t++) frames[t]!.add(note.pitch);
  }
  return frames.map((frame) => [...frame].sort((a, b) => a - b));
}

/** Events of a piano roll, ending with the shift past its last frame. */
export function pianoRollToEvents(frames: PianoRoll, encoding: EventEncoding): number[] {
  const events = notesToEvents(pianoRollToNotes(frames, encoding.stepsPerQuarter), encoding);
  const spanned = eventSteps(events, encoding);
  // Trailing silent frames are part of the piece's length.
  if (frames.length > spanned) pushShifts(events, frames.length - spanned, encoding.maxShift);
  return events;
}

export function eventsToPianoRoll(events: ArrayLike<number>, encoding: EventEncoding): PianoRoll {
  return notesToPianoRoll(eventsToNotes(events, encoding), encoding.stepsPerQuarter, eventSteps(events, encoding));
}

/** A readable name for an event id, for errors and debugging. */
export function eventName(id: number, encoding: EventEncoding): string {
  if (id < noteOffOffset) return `NOTE_ON(${id})`;
  if (id < timeShiftOffset) return `NOTE_OFF(${id - noteOffOffset})`;
  if (id < velocityOffset(encoding)) return `TIME_SHIFT(${id - timeShiftOffset + 1})`;
  if (id < beginToken(encoding)) return `VELOCITY(${id - velocityOffset(encoding) + 1})`;
  if (id === beginToken(encoding)) return 'BOS';
  if (id === endToken(encoding)) return 'EOS';
  return `?(${id})`;
}
