/**
 * What `sample` does for music models: compose from a style, a primer and a length, and write each
 * piece as MIDI, as WAV (so it can be heard without a synthesizer) and as a piano-roll PNG.
 */
import { dirname } from 'node:path';
import { Command } from 'commander';
import { GenloomError } from '../core/errors.ts';
import { composeMusic, musicFiles, type MusicRequest } from '../generate/index.ts';
import { makeDirectories, writeFileAtomic } from '../io/atomic.ts';
import { writePng } from '../io/image.ts';
import type { LoadedModel } from '../models/family.ts';
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

/** Composes `request.n` pieces and writes NAME.mid, NAME.wav and NAME.png for each (NAME-1, NAME-2, … when several). */
export function composeToFiles(model: LoadedModel, dir: string, request: MusicRequest & { n: number }, out: string, quiet: boolean): string[] {
  if (!/\.midi?$/i.test(out)) throw new GenloomError('BAD_ARGUMENT', `--out names the MIDI file to write (e.g. piece.mid); got ${out}`);
  let progress: ReturnType<typeof createProgress> | undefined;
  let composed;
  try {
    composed = composeMusic(model, request, {
      name: dir,
      onProgress: (done, total) => {
        progress ??= createProgress({ total, label: 'compose', quiet });
        progress.update(done, {});
      },
    });
  } finally {
    progress?.stop();
  }
  const stem = out.replace(/\.midi?$/i, '');
  makeDirectories(dirname(out) || '.');
  const written: string[] = [];
  composed.pieces.forEach((piece, i) => {
    const name = request.n > 1 ? `${stem}-${i + 1}` : stem;
    const midiPath = request.n > 1 ? `${name}.mid` : out;
    const files = musicFiles(piece.notes, composed);
    writeFileAtomic(midiPath, files.midi);
    writeFileAtomic(`${name}.wav`, files.wav);
    writePng(`${name}.png`, files.pianoRoll);
    written.push(midiPath);
  });
  return written;
}
