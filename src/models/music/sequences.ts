/**
 * Pieces as the network reads them: BOS, the events, EOS; cut into training windows of at most
 * `context` events (a window starts from a fresh state, so the first one of each piece also learns
 * how pieces begin); padded batches with a mask; random transposition for augmentation.
 */
import * as tf from '../../core/tf.ts';
import type { Random } from '../../core/random.ts';
import { beginToken, endToken, noteOffOffset, notesToEvents, timeShiftOffset, updateSounding, type EventEncoding } from '../../music/events.ts';
import type { Piece } from '../../data/music-dataset.ts';
import { pitchCount, type EventBatch } from './rnn.ts';

export interface EventSequence {
  ids: Int32Array;
  style: number;
}

export function pieceSequence(piece: Piece, encoding: EventEncoding): EventSequence {
  return { ids: Int32Array.from([beginToken(encoding), ...notesToEvents(piece.notes, encoding), endToken(encoding)]), style: piece.style };
}

/** One training example: events start … end (inclusive) of a sequence; the inputs are all but the last. */
export interface Window {
  sequence: number;
  start: number;
  end: number;
}

export function trainingWindows(sequences: EventSequence[], context: number): Window[] {
  const windows: Window[] = [];
  sequences.forEach((sequence, index) => {
    for (let start = 0; start < sequence.ids.length - 1; start += context) windows.push({ sequence: index, start, end: Math.min(sequence.ids.length - 1, start + context) });
  });
  return windows;
}

export interface BatchOptions {
  /** Draws the transpositions. */
  random?: Random;
  /** Each window moves by a random number of semitones in [−transpose, transpose] (clamped so every pitch stays in 0..127). */
  transpose?: number;
  /** Add the sounding notes after each input event (models with `soundingInput`). */
  sounding?: boolean;
}

/** A padded batch of windows. */
export function windowsBatch(sequences: EventSequence[], windows: Window[], options: BatchOptions = {}): EventBatch {
  const { random, transpose = 0 } = options;
  const length = Math.max(...windows.map((window) => window.end - window.start));
  const inputs = new Int32Array(windows.length * length);
  const targets = new Int32Array(windows.length * length);
  const mask = new Float32Array(windows.length * length);
  const styles = new Int32Array(windows.length);
  const sounding = options.sounding ? new Float32Array(windows.length * length * pitchCount) : null;
  windows.forEach((window, row) => {
    const sequence = sequences[window.sequence]!.ids;
    const ids = sequence.subarray(window.start, window.end + 1);
    const shift = transpose > 0 && random ? transposition(ids, random.fork('transpose', row).integer(2 * transpose + 1) - transpose) : 0;
    const moved = shift === 0 ? ids : ids.map((id) => (id < timeShiftOffset ? id + shift : id));
    inputs.set(moved.subarray(0, moved.length - 1), row * length);
    targets.set(moved.subarray(1), row * length);
    mask.fill(1, row * length, row * length + moved.length - 1);
    styles[row] = sequences[window.sequence]!.style;
    if (sounding) writeSounding(sounding.subarray(row * length * pitchCount, (row + 1) * length * pitchCount), sequence, window, shift, moved);
  });
  return {
    inputs: tf.tensor2d(inputs, [windows.length, length], 'int32'),
    targets: tf.tensor2d(targets, [windows.length, length], 'int32'),
    mask: tf.tensor2d(mask, [windows.length, length]),
    styles: tf.tensor1d(styles, 'int32'),
    ...(sounding ? { sounding: tf.tensor3d(sounding, [windows.length, length, pitchCount]) } : {}),
  };
}

/**
 * The pitches sounding after each input event of a window ([inputs × 128], 1 = sounding): those
 * left on by the events before the window (moved by the window's transposition), then each event's
 * change, exactly as composing tracks them.
 */
function writeSounding(out: Float32Array, sequence: Int32Array, window: Window, shift: number, moved: Int32Array): void {
  const before = new Uint8Array(pitchCount);
  for (let i = 0; i < window.start; i++) updateSounding(before, sequence[i]!);
  const now = new Uint8Array(pitchCount);
  for (let pitch = 0; pitch < pitchCount; pitch++) if (before[pitch] && pitch + shift >= 0 && pitch + shift < pitchCount) now[pitch + shift] = 1;
  for (let t = 0; t < moved.length - 1; t++) {
    updateSounding(now, moved[t]!);
    for (let pitch = 0; pitch < pitchCount; pitch++) out[t * pitchCount + pitch] = now[pitch]!;
  }
}

/** `shift` clamped so the window's pitches stay in MIDI's range. */
function transposition(ids: Int32Array, shift: number): number {
  let low = 127;
  let high = 0;
  for (const id of ids) {
    if (id >= timeShiftOffset) continue;
    const pitch = id % noteOffOffset;
    low = Math.min(low, pitch);
    high = Math.max(high, pitch);
  }
  if (low > high) return 0;
  return Math.max(-low, Math.min(127 - high, shift));
}
