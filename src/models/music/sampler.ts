/**
 * Composing with the event model: feed BOS and the primer's events, then draw one event at a time
 * (temperature, top-k/top-p as for text) until the piece is `steps` grid steps long. Only events that
 * mean something are drawn (no NOTE_ON of a sounding pitch, no NOTE_OFF of a silent one); BOS is never
 * drawn and EOS not before the requested length, so a piece always has the length asked for; a shift
 * past the end is cut at the end, and notes still sounding there are released.
 */
import * as tf from '../../core/tf.ts';
import { GenloomError } from '../../core/errors.ts';
import type { Random } from '../../core/random.ts';
import { beginToken, endToken, eventSteps, eventsToNotes, isTimeShift, noteOffOffset, timeShiftOffset, updateSounding } from '../../music/events.ts';
import type { Note } from '../../music/midi.ts';
import { drawToken, nextTokenProbabilities, type TokenSamplingOptions } from '../../sampling/token-sampling.ts';
import { encodingOf } from './config.ts';
import { pitchCount, type MusicRnn, type RecurrentState } from './rnn.ts';

export interface MusicSamplingOptions extends TokenSamplingOptions {
  /** Style index of each piece (one per piece). */
  styles: number[];
  /** Events of the primer (the same for every piece), without BOS. */
  primer?: number[];
  /** Length of each piece in grid steps, primer included. */
  steps: number;
  /** Called as pieces grow, with the steps done by the slowest piece. */
  onProgress?(steps: number): void;
}

export interface ComposedPiece {
  /** Events after BOS: the primer's, then the model's. */
  events: number[];
  notes: Note[];
}

/** Composes one piece per entry of options.styles; the same `random` gives the same pieces. */
export function composeMusic(model: MusicRnn, random: Random, options: MusicSamplingOptions): ComposedPiece[] {
  const encoding = encodingOf(model.config);
  const count = options.styles.length;
  const begin = beginToken(encoding);
  const end = endToken(encoding);
  const bad = (options.primer ?? []).find((id) => !(Number.isInteger(id) && id >= 0 && id < model.vocabularySize));
  if (bad !== undefined) throw new GenloomError('BAD_ARGUMENT', `the primer has event id ${bad}, outside this model's vocabulary of ${model.vocabularySize}`);
  // Start and end marks belong to whole pieces, not inside a primer.
  const primer = (options.primer ?? []).filter((id) => id !== begin && id !== end);
  const primerSteps = eventSteps(primer, encoding);
  const events: number[][] = Array.from({ length: count }, () => [...primer]);
  const stepsDone = new Array<number>(count).fill(primerSteps);
  // Which pitches each piece has sounding: after BOS none, then after each primer event.
  const sounding = Array.from({ length: count }, () => new Uint8Array(128));
  const primerSounding: Uint8Array[][] = [sounding.map((pitches) => pitches.slice())];
  for (const id of primer) {
    for (const pitches of sounding) updateSounding(pitches, id);
    primerSounding.push(sounding.map((pitches) => pitches.slice()));
  }
  // A generous cap: a piece that only plays notes without moving on would otherwise never end.
  const maxEvents = primer.length + options.steps * 40 + 100;
  const styles = tf.tensor1d(options.styles, 'int32');
  let state: RecurrentState | undefined;
  let logits: Float32Array;
  try {
    ({ state, logits } = advance(model, [begin, ...primer].map((id) => new Array<number>(count).fill(id)), primerSounding, styles, undefined));
    for (let index = primer.length; index < maxEvents && stepsDone.some((steps) => steps < options.steps); index++) {
      const chosen: number[] = [];
      for (let piece = 0; piece < count; piece++) {
        const row = logits.slice(piece * model.vocabularySize, (piece + 1) * model.vocabularySize);
        row[begin] = -Infinity;
        if (stepsDone[piece]! < options.steps) row[end] = -Infinity;
        // Only events that mean something now: no NOTE_ON of a sounding pitch, no NOTE_OFF of a silent one.
        for (let pitch = 0; pitch < 128; pitch++) row[sounding[piece]![pitch] ? pitch : noteOffOffset + pitch] = -Infinity;
        let id = stepsDone[piece]! >= options.steps ? end : drawToken(nextTokenProbabilities(row, events[piece]!, options), random.fork('event', piece, index));
        if (isTimeShift(id, encoding)) {
          const shift = Math.min(id - timeShiftOffset + 1, options.steps - stepsDone[piece]!);
          id = timeShiftOffset + shift - 1;
          stepsDone[piece]! += shift;
        }
        updateSounding(sounding[piece]!, id);
        if (id !== end) events[piece]!.push(id);
        chosen.push(id);
      }
      const previous: RecurrentState = state!;
      ({ state, logits } = advance(model, [chosen], [sounding], styles, previous));
      tf.dispose(previous as unknown as tf.TensorContainer);
      options.onProgress?.(Math.min(...stepsDone));
    }
  } finally {
    styles.dispose();
    if (state) tf.dispose(state as unknown as tf.TensorContainer);
  }
  // A piece that hit the event cap (notes without ever moving on) is padded with silence to its length.
  events.forEach((list, piece) => {
    for (let left = options.steps - stepsDone[piece]!; left > 0; left -= encoding.maxShift) list.push(timeShiftOffset + Math.min(left, encoding.maxShift) - 1);
  });
  return events.map((list) => ({ events: list, notes: eventsToNotes(list, encoding, options.steps) }));
}

/**
 * Runs the model over `columns` (one id per piece each) from `state`, with `sounding[t][piece]` the
 * pitches sounding after column t's event (read by models with `soundingInput`); returns the new
 * state and the last logits [count × V].
 */
function advance(model: MusicRnn, columns: number[][], sounding: Uint8Array[][], styles: tf.Tensor1D, state: RecurrentState | undefined): { state: RecurrentState; logits: Float32Array } {
  const count = columns[0]!.length;
  const result = tf.tidy(() => {
    const ids = new Int32Array(count * columns.length);
    columns.forEach((column, t) => column.forEach((id, piece) => (ids[piece * columns.length + t] = id)));
    let notes: tf.Tensor3D | undefined;
    if (model.config.soundingInput) {
      const values = new Float32Array(count * columns.length * pitchCount);
      sounding.forEach((pieces, t) => pieces.forEach((pitches, piece) => values.set(pitches, (piece * columns.length + t) * pitchCount)));
      notes = tf.tensor3d(values, [count, columns.length, pitchCount]);
    }
    const { logits, state: next } = model.forward(tf.tensor2d(ids, [count, columns.length], 'int32'), styles, state, notes);
    const last = logits.slice([0, columns.length - 1, 0], [count, 1, model.vocabularySize]);
    return { state: next, last };
  });
  const logits = result.last.dataSync() as Float32Array;
  result.last.dispose();
  return { state: result.state, logits };
}
