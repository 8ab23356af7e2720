/**
 * `genloom eval` for the music model.
 *
 * Frame-level NLL (piano-roll datasets, the table of Boulanger-Lewandowski et al. 2012): the test
 * pieces' frames become events on the model's grid (canonical order, see music/events.ts) and
 *
 *   NLL per frame = −(1/N) Σ_pieces log p(events of the piece | BOS, style)
 *
 * with N the number of frames of all pieces (every frame counts, the first one too) and EOS not
 * scored (the published figures do not model where a piece ends). The model's probability of a
 * sequence of frames is the sum over every event sequence that spells it; the canonical spelling is
 * one of them, so this figure is an upper bound on the model's exact frame NLL (the model learns to
 * put nearly all its mass on canonical spellings, so the bound is close). Unlike an RNN with 88
 * independent sigmoids, the notes of a frame are predicted one after another, so the frame's
 * distribution is a joint one, as in RNN-NADE.
 *
 * Event level (any dataset): NLL per event and the share of events the model ranks first, overall
 * and for NOTE_ONs. Note level: statistics of composed pieces beside the same for the test pieces.
 */
import * as tf from '../../core/tf.ts';
import { GenloomError } from '../../core/errors.ts';
import type { Random } from '../../core/random.ts';
import { beginToken, endToken, eventsToNotes, isTimeShift, notesToEvents, pianoRollToEvents, type EventEncoding } from '../../music/events.ts';
import type { Note } from '../../music/midi.ts';
import type { MusicDataset, Piece } from '../../data/music-dataset.ts';
import { createProgress } from '../../train/progress.ts';
import { encodingOf } from './config.ts';
import type { MusicRnn } from './rnn.ts';
import { defaultTokenSampling } from '../../sampling/token-sampling.ts';
import { composeMusic } from './sampler.ts';
import { windowsBatch, type EventSequence } from './sequences.ts';

/** Per piece (or summed over pieces): the NLL of its events after BOS, how many there are, and how many the model ranks first, overall and for NOTE_ONs. */
export interface Scored {
  nll: number;
  events: number;
  hits: number;
  noteOns: number;
  noteOnHits: number;
}

/** Scores whole sequences (from BOS, fresh state), a few at a time. */
export function scoreSequences(model: MusicRnn, sequences: EventSequence[], onProgress?: (done: number) => void): Scored[] {
  const results: Scored[] = [];
  // About 64k events per pass: the logits of long MIDI pieces would not fit in memory 16 at a time.
  for (let first = 0, perBatch = 1; first < sequences.length; first += perBatch) {
    const longest = Math.max(...sequences.slice(first, first + 16).map((sequence) => sequence.ids.length));
    perBatch = Math.max(1, Math.min(16, Math.floor(65_536 / longest)));
    const group = sequences.slice(first, first + perBatch);
    const windows = group.map((sequence, i) => ({ sequence: first + i, start: 0, end: sequence.ids.length - 1 }));
    const batch = windowsBatch(sequences, windows, { sounding: model.config.soundingInput });
    const targets = batch.targets.dataSync();
    const length = batch.inputs.shape[1];
    let nll: Float32Array;
    let predicted: Int32Array;
    try {
      [nll, predicted] = tf.tidy(() => {
        const logits = model.sequenceLogits(batch.inputs, batch.styles, undefined, batch.sounding);
        const [size, steps, vocabulary] = logits.shape;
        const flat = logits.reshape([size * steps, vocabulary]);
        const picked = tf.logSoftmax(flat).mul(tf.oneHot(batch.targets.flatten(), vocabulary)).sum(1).neg();
        return [picked.dataSync() as Float32Array, tf.argMax(flat, 1).dataSync() as Int32Array];
      });
    } finally {
      tf.dispose(batch as unknown as tf.TensorContainer);
    }
    group.forEach((sequence, row) => {
      const scored: Scored = { nll: 0, events: 0, hits: 0, noteOns: 0, noteOnHits: 0 };
      for (let t = 0; t < sequence.ids.length - 1; t++) {
        const index = row * length + t;
        const target = targets[index]!;
        scored.nll += nll[index]!;
        scored.events++;
        const hit = predicted[index] === target ? 1 : 0;
        scored.hits += hit;
        if (target < 128) {
          scored.noteOns++;
          scored.noteOnHits += hit;
        }
      }
      results.push(scored);
    });
    onProgress?.(first + group.length);
  }
  return results;
}

/** The pieces' scores added up. */
export function totalScore(scored: Scored[]): Scored {
  return scored.reduce((sum, piece) => ({ nll: sum.nll + piece.nll, events: sum.events + piece.events, hits: sum.hits + piece.hits, noteOns: sum.noteOns + piece.noteOns, noteOnHits: sum.noteOnHits + piece.noteOnHits }), { nll: 0, events: 0, hits: 0, noteOns: 0, noteOnHits: 0 });
}

/** Frames of a piano-roll piece on the model's grid: each dataset frame lasts `factor` model steps. */
function framesOnGrid(piece: Piece, datasetSteps: number, encoding: EventEncoding): number[] {
  const factor = encoding.stepsPerQuarter / datasetSteps;
  const frames = piece.frames!.flatMap((frame) => Array.from({ length: factor }, () => frame));
  const events = pianoRollToEvents(frames, encoding);
  // The offs after the last shift only end the piece; the frames are spelled without them.
  let end = events.length;
  while (end > 0 && !isTimeShift(events[end - 1]!, encoding)) end--;
  return events.slice(0, end);
}

export interface NoteStatistics {
  pieces: number;
  notesPerBar: number;
  /** Mean number of notes sounding over the steps where any sounds. */
  polyphony: number;
  pitchLow: number;
  pitchHigh: number;
  /** Share of notes in the major scale that fits the piece best (0..1). */
  inScale: number;
}

export function noteStatistics(pieces: Note[][], beatsPerBar: number): NoteStatistics {
  let notes = 0;
  let beats = 0;
  let soundingSum = 0;
  let soundingSteps = 0;
  let inScale = 0;
  let low = 127;
  let high = 0;
  for (const piece of pieces) {
    notes += piece.length;
    beats += Math.max(0, ...piece.map((note) => note.start + note.duration));
    // Polyphony on a sixteenth grid.
    const steps = new Map<number, number>();
    for (const note of piece) {
      low = Math.min(low, note.pitch);
      high = Math.max(high, note.pitch);
      for (let t = Math.round(note.start * 4); t < Math.round((note.start + note.duration) * 4); t++) steps.set(t, (steps.get(t) ?? 0) + 1);
    }
    for (const count of steps.values()) soundingSum += count;
    soundingSteps += steps.size;
    const classes = new Array<number>(12).fill(0);
    for (const note of piece) classes[note.pitch % 12]!++;
    const major = [0, 2, 4, 5, 7, 9, 11];
    let best = 0;
    for (let tonic = 0; tonic < 12; tonic++) best = Math.max(best, major.reduce((sum, degree) => sum + classes[(tonic + degree) % 12]!, 0));
    inScale += best;
  }
  const round = (value: number) => Number(value.toFixed(3));
  return {
    pieces: pieces.length,
    notesPerBar: round(notes / Math.max(1e-9, beats / beatsPerBar)),
    polyphony: round(soundingSum / Math.max(1, soundingSteps)),
    pitchLow: low,
    pitchHigh: high,
    inScale: round(inScale / Math.max(1, notes)),
  };
}

export interface MusicEvaluationOptions {
  split: 'test' | 'validation';
  limit?: number;
  random: Random;
  quiet: boolean;
  /** Pieces to compose for the note statistics (0: none). */
  samples: number;
  /** The model's style names, by index. */
  styles: string[];
}

export function evaluateMusic(model: MusicRnn, data: MusicDataset, options: MusicEvaluationOptions): Record<string, unknown> {
  const encoding = encodingOf(model.config);
  let pieces = data.pieces.filter((piece) => piece.split === options.split);
  if (pieces.length === 0) throw new GenloomError('EMPTY_DATASET', `${data.name} has no ${options.split} pieces to evaluate on`);
  if (options.limit !== undefined) pieces = pieces.slice(0, options.limit);
  // A piece plays in the model's style of the same name (the first style when the model lacks it).
  const known = options.styles;
  const styleIndex = (piece: Piece) => Math.max(0, known.indexOf(data.styles[piece.style]!));
  const begin = beginToken(encoding);
  const result: Record<string, unknown> = { split: options.split, pieces: pieces.length };
  const progress = createProgress({ total: pieces.length * (data.kind === 'piano-roll' ? 2 : 1), label: 'eval', quiet: options.quiet });
  try {
    if (data.kind === 'piano-roll') {
      const datasetSteps = data.stepsPerQuarter!;
      if (encoding.stepsPerQuarter % datasetSteps !== 0) {
        throw new GenloomError('BAD_ARGUMENT', `${data.name} has ${datasetSteps} frame(s) per quarter note, which the model's grid of ${encoding.stepsPerQuarter} steps per quarter cannot represent exactly`);
      }
      const sequences = pieces.map((piece) => ({ ids: Int32Array.from([begin, ...framesOnGrid(piece, datasetSteps, encoding)]), style: styleIndex(piece) }));
      const scored = scoreSequences(model, sequences, (done) => progress.update(done, {}));
      const frames = pieces.reduce((sum, piece) => sum + piece.frames!.length, 0);
      const { nll } = totalScore(scored);
      Object.assign(result, {
        frameNll: Number((nll / frames).toFixed(4)),
        frames,
        frameNllMethod:
          'nats per frame: −Σ log p(canonical events of each piece | BOS) ÷ all frames; the notes of a frame are predicted one after another (a joint distribution, not independent sigmoids); an upper bound on the exact frame NLL (other spellings of the same frames are not summed); EOS not scored',
        framesPerQuarter: datasetSteps,
      });
    }
    // Event level: the pieces' own events (with EOS), on the model's grid.
    const sequences = pieces.map((piece) => ({ ids: Int32Array.from([begin, ...notesToEvents(piece.notes, encoding), endToken(encoding)]), style: styleIndex(piece) }));
    const offset = data.kind === 'piano-roll' ? pieces.length : 0;
    const scored = scoreSequences(model, sequences, (done) => progress.update(offset + done, {}));
    const total = totalScore(scored);
    Object.assign(result, {
      eventNll: Number((total.nll / total.events).toFixed(4)),
      events: total.events,
      eventAccuracy: Number((total.hits / total.events).toFixed(4)),
      noteOnAccuracy: Number((total.noteOnHits / Math.max(1, total.noteOns)).toFixed(4)),
    });
  } finally {
    progress.stop();
  }
  if (options.samples > 0) {
    const bars = 8;
    const steps = bars * data.beatsPerBar * encoding.stepsPerQuarter;
    const composed = composeMusic(model, options.random, { styles: Array.from({ length: options.samples }, (_, i) => i % known.length), steps, ...defaultTokenSampling });
    const reference = pieces.map((piece) => eventsToNotes(notesToEvents(piece.notes, encoding), encoding).filter((note) => note.start < bars * data.beatsPerBar));
    result['noteStatistics'] = {
      samples: noteStatistics(composed.map((piece) => piece.notes), data.beatsPerBar),
      reference: noteStatistics(reference, data.beatsPerBar),
      method: `${options.samples} pieces of ${bars} bars composed at temperature 1 from the seed, against the first ${bars} bars of the ${options.split} pieces`,
    };
  }
  return result;
}
