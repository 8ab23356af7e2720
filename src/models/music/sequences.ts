/**
 * Pieces as the network reads them: BOS, the events, EOS; cut into training windows of at most
 * `context` events (a window starts from a fresh state, so the first one of each piece also learns
 * how pieces begin); padded batches with a mask; random transposition for augmentation.
 */
import * as tf from '../../core/tf.ts';
import type { Random } from '../../core/random.ts';
import { beginToken, endToken, noteOffOffset, notesToEvents, timeShiftOffset, type EventEncoding } from '../../music/events.ts';
import type { Piece } from '../../data/music-dataset.ts';
import type { EventBatch } from './rnn.ts';

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

/**
 * A padded batch of windows. With `transpose` > 0 each window moves by a random number of
 * semitones in [−transpose, transpose] (clamped so every pitch stays in 0..127).
 */
export function windowsBatch(sequences: EventSequence[], windows: Window[], random?: Random, transpose = 0): EventBatch {
  const length = Math.max(...windows.map((window) => window.end - window.start));
  const inputs = new Int32Array(windows.length * length);
  const targets = new Int32Array(windows.length * length);
  const mask = new Float32Array(windows.length * length);
  const styles = new Int32Array(windows.length);
  windows.forEach((window, row) => {
    const ids = sequences[window.sequence]!.ids.subarray(window.start, window.end + 1);
    const shift = transpose > 0 && random ? transposition(ids, random.fork('transpose', row).integer(2 * transpose + 1) - transpose) : 0;
    const moved = shift === 0 ? ids : ids.map((id) => (id < timeShiftOffset ? id + shift : id));
    inputs.set(moved.subarray(0, moved.length - 1), row * length);
    targets.set(moved.subarray(1), row * length);
    mask.fill(1, row * length, row * length + moved.length - 1);
    styles[row] = sequences[window.sequence]!.style;
  });
  return {
    inputs: tf.tensor2d(inputs, [windows.length, length], 'int32'),
    targets: tf.tensor2d(targets, [windows.length, length], 'int32'),
    mask: tf.tensor2d(mask, [windows.length, length]),
    styles: tf.tensor1d(styles, 'int32'),
  };
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
