/**
 * What `sample` does for music models: compose from a style, a primer and a length, and write each
 * piece as MIDI, as WAV (so it can be heard without a synthesizer) and as a piano-roll PNG.
 */
import { dirname } from 'node:path';
import { Command } from 'commander';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import { makeDirectories } from '../io/atomic.ts';
import { writeWav } from '../music/audio.ts';
import { readMidi, writeMidi, type Note } from '../music/midi.ts';
import { writePianoRoll } from '../music/piano-roll.ts';
import type { MusicModel } from '../models/family.ts';
import { defaultTokenSampling, validateTokenSampling } from '../sampling/token-sampling.ts';
import { createProgress } from '../train/progress.ts';
import { parseInteger, parseNumber } from './options.ts';

export interface MusicSampleFlags {
  primer?: string;
  bars?: number;
  seconds?: number;
  temperature?: number;
  topP?: number;
  style?: string;
}

export const musicFlagNames = ['primer', 'bars', 'seconds', 'temperature', 'topP', 'style'] as const;

export function addMusicOptions(command: Command): Command {
  return command
    .option('--primer <file.mid>', 'music: start from this MIDI file (its notes are kept; the model continues them)')
    .option('--bars <n>', 'music: length of each piece in bars, primer included (default 8)', parseInteger(1, 1000))
    .option('--seconds <s>', 'music: length in seconds at the model\'s tempo, instead of --bars', parseNumber(0.1, 3600))
    .option('--temperature <t>', 'music: randomness ≥ 0 (default 1; lower is safer, higher more adventurous; 0 always takes the likeliest event)', parseNumber(0, 10))
    .option('--top-p <p>', 'music: draw from the smallest set of events whose probability reaches p (default 1: all)', parseNumber(0, 1))
    .option('--style <name>', 'music: the style (composer) to compose in, by name or index');
}

/** The requested style as an index of the model's styles; an unknown one lists those it knows. */
export function resolveStyle(music: MusicModel, dir: string, style: string | undefined): number {
  if (style === undefined) return 0;
  const index = /^\d+$/.test(style) ? Number(style) : music.styles.findIndex((name) => name.toLowerCase() === style.toLowerCase());
  if (!(index >= 0 && index < music.styles.length)) throw new GenloomError('BAD_ARGUMENT', `unknown style "${style}": ${dir} was trained on ${music.styles.join(', ')}`);
  return index;
}

/** Composes `count` pieces and writes NAME.mid, NAME.wav and NAME.png for each (NAME-1, NAME-2, … when several). */
export function composeToFiles(music: MusicModel, dir: string, flags: MusicSampleFlags & { n: number; seed: number; out: string }, quiet: boolean): string[] {
  if (!/\.midi?$/i.test(flags.out)) throw new GenloomError('BAD_ARGUMENT', `--out names the MIDI file to write (e.g. piece.mid); got ${flags.out}`);
  if (flags.bars !== undefined && flags.seconds !== undefined) throw new GenloomError('BAD_ARGUMENT', 'give --bars or --seconds, not both');
  const sampling = { ...defaultTokenSampling, temperature: flags.temperature ?? 1, topP: flags.topP ?? 1 };
  validateTokenSampling(sampling);
  const style = resolveStyle(music, dir, flags.style);
  const stepsPerBar = music.beatsPerBar * music.stepsPerQuarter;
  const steps = flags.seconds !== undefined ? Math.max(1, Math.round((flags.seconds * music.bpm * music.stepsPerQuarter) / 60)) : (flags.bars ?? 8) * stepsPerBar;
  let primer: Note[] | undefined;
  if (flags.primer !== undefined) {
    primer = readMidi(flags.primer).notes;
    const primerSteps = Math.round(Math.max(...primer.map((note) => note.start + note.duration)) * music.stepsPerQuarter);
    if (primerSteps >= steps) {
      throw new GenloomError('BAD_ARGUMENT', `the primer ${flags.primer} lasts ${(primerSteps / stepsPerBar).toFixed(1)} bars, not shorter than the requested piece of ${(steps / stepsPerBar).toFixed(1)} bars: ask for more --bars or --seconds`);
    }
  }
  const progress = createProgress({ total: steps, label: 'compose', quiet });
  let pieces: { notes: Note[] }[];
  try {
    pieces = music.compose({ ...sampling, styles: new Array<number>(flags.n).fill(style), primer, steps, random: fromSeed(flags.seed).fork('compose'), onProgress: (done) => progress.update(done, {}) });
  } finally {
    progress.stop();
  }
  const stem = flags.out.replace(/\.midi?$/i, '');
  makeDirectories(dirname(flags.out) || '.');
  const written: string[] = [];
  pieces.forEach((piece, i) => {
    const name = flags.n > 1 ? `${stem}-${i + 1}` : stem;
    const midiPath = flags.n > 1 ? `${name}.mid` : flags.out;
    writeMidi(midiPath, { notes: piece.notes, bpm: music.bpm, beatsPerBar: music.beatsPerBar });
    writeWav(`${name}.wav`, piece.notes, { bpm: music.bpm });
    writePianoRoll(`${name}.png`, piece.notes, { beatsPerBar: music.beatsPerBar });
    written.push(midiPath);
  });
  return written;
}
