/**
 * Music from a model of note events: pieces in a style, of a length in bars or seconds, optionally
 * continuing a primer; and each piece as the files people use (MIDI, WAV, a piano-roll picture).
 */
import { GenloomError } from '../core/errors.ts';
import type { ImageData01 } from '../io/image.ts';
import type { LoadedModel } from '../models/family.ts';
import { encodeWav, renderNotes } from '../music/audio.ts';
import { encodeMidi, type Note } from '../music/midi.ts';
import { pianoRollImage } from '../music/piano-roll.ts';
import { resolveStyle } from './conditions.ts';
import { checkGenerationFields } from './fields.ts';
import { withSignal, type GenerationOptions } from './images.ts';
import { generationRandom } from './seeds.ts';
import { tokenSamplingOf } from './text.ts';

export interface MusicRequest {
  seed: number;
  /** How many pieces (default 1), all in the same style. */
  n?: number;
  /** A style name or index (default: the model's first). */
  style?: string;
  /** Length in bars, primer included (default 8), or in seconds at the model's tempo. */
  bars?: number;
  seconds?: number;
  /** Notes the pieces start from; the model continues them. */
  primer?: Note[];
  temperature?: number;
  topP?: number;
}

export interface ComposedMusic {
  pieces: { notes: Note[] }[];
  style: string;
  steps: number;
  bpm: number;
  beatsPerBar: number;
}

/**
 * Composes `n` pieces for `seed`.
 *
 * @example
 * const model = loadModel('models/music-bach');
 * const { pieces, bpm, beatsPerBar } = composeMusic(model, { seed: 2, bars: 16, temperature: 0.9 });
 * writeFileSync('piece.mid', musicFiles(pieces[0].notes, { bpm, beatsPerBar }).midi);
 */
export function composeMusic(model: LoadedModel, request: MusicRequest, options: GenerationOptions = {}): ComposedMusic {
  const name = options.name ?? 'the model';
  checkGenerationFields(model, name, request);
  const music = model.music;
  if (!music) throw new GenloomError('UNSUPPORTED', `${name} is a ${model.family} model, which does not compose music`);
  if (request.bars !== undefined && request.seconds !== undefined) throw new GenloomError('BAD_ARGUMENT', 'give {bars} or {seconds}, not both');
  // Music is drawn plainly by default (temperature 1, all events): the model's own distribution.
  const sampling = tokenSamplingOf({ temperature: request.temperature, topP: request.topP });
  const style = resolveStyle(music, name, request.style);
  const stepsPerBar = music.beatsPerBar * music.stepsPerQuarter;
  const steps = request.seconds !== undefined ? Math.max(1, Math.round((request.seconds * music.bpm * music.stepsPerQuarter) / 60)) : (request.bars ?? 8) * stepsPerBar;
  if (request.primer) {
    // A loop, not Math.max(...notes): spreading a long primer overflows the call stack.
    const primerEnd = request.primer.reduce((end, note) => Math.max(end, note.start + note.duration), 0);
    const primerSteps = Math.round(primerEnd * music.stepsPerQuarter);
    if (primerSteps >= steps) {
      throw new GenloomError('BAD_ARGUMENT', `the {primer} lasts ${(primerSteps / stepsPerBar).toFixed(1)} bars, not shorter than the requested piece of ${(steps / stepsPerBar).toFixed(1)} bars: ask for more {bars} or {seconds}`);
    }
  }
  const hooks = withSignal(options);
  const pieces = music.compose({
    ...sampling,
    styles: new Array<number>(request.n ?? 1).fill(style),
    primer: request.primer,
    steps,
    random: generationRandom(request.seed, 'compose'),
    onProgress: (done) => hooks.onProgress?.(done, steps),
  });
  return { pieces, style: music.styles[style]!, steps, bpm: music.bpm, beatsPerBar: music.beatsPerBar };
}

/** The sample rate pieces are rendered at: enough for the sine-and-envelope voices, a small WAV. */
export const musicSampleRate = 22_050;

/** A piece as a standard MIDI file, a WAV rendering and a piano-roll picture. */
export function musicFiles(notes: Note[], timing: { bpm: number; beatsPerBar: number }): { midi: Uint8Array; wav: Buffer; pianoRoll: ImageData01 } {
  return {
    midi: encodeMidi({ notes, bpm: timing.bpm, beatsPerBar: timing.beatsPerBar }),
    wav: encodeWav(renderNotes(notes, { bpm: timing.bpm, sampleRate: musicSampleRate }), musicSampleRate),
    pianoRoll: pianoRollImage(notes, { beatsPerBar: timing.beatsPerBar }),
  };
}
