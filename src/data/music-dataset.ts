/**
 * Music to train on, as pieces of notes with a split and a style:
 * - a piano-roll JSON file in the JSB Chorales format ({train, valid, test}: lists of pieces, a piece
 *   a list of frames, a frame the MIDI pitches sounding; −1 is a silent voice). Its splits are kept;
 *   its grid is quarter notes when the name says "quarter", sixteenths when it says "16th";
 * - a folder of MIDI files (searched recursively), optionally one style per top-level subfolder;
 *   10% of the files validate and 10% test, chosen by a hash of their path (stable as files are
 *   added); files that do not read are skipped and listed;
 * - a single MIDI file (all of it trains).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, relative, sep } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import { pianoRollToNotes, type PianoRoll } from '../music/events.ts';
import { readMidi, type Note } from '../music/midi.ts';
import { readJsonFile } from '../io/json-file.ts';

export type MusicSplit = 'train' | 'validation' | 'test';

export interface Piece {
  name: string;
  split: MusicSplit;
  /** Index into the dataset's styles. */
  style: number;
  notes: Note[];
  /** Piano-roll datasets: the frames as given (what the frame-level likelihood is measured on). */
  frames?: PianoRoll;
}

export interface MusicDataset {
  name: string;
  kind: 'piano-roll' | 'midi';
  /** Piano-roll datasets: grid steps per quarter note of their frames. */
  stepsPerQuarter?: number;
  styles: string[];
  pieces: Piece[];
  /** Files that were skipped, with why. */
  skipped: { file: string; reason: string }[];
  /** Median starting tempo of the files (piano rolls: 100, a chorale's pace). */
  bpm: number;
  beatsPerBar: number;
}

export interface MusicDatasetOptions {
  styleFromSubfolders?: boolean;
  /** Frames per quarter note of a piano-roll file whose name does not say (quarter or 16th). */
  stepsPerQuarter?: number;
}

export function loadMusicDataset(spec: string, options: MusicDatasetOptions = {}): MusicDataset {
  if (!spec) throw new GenloomError('BAD_ARGUMENT', 'give a music dataset: a piano-roll .json file (the JSB Chorales), a folder of MIDI files, or a .mid file');
  if (!existsSync(spec)) throw new GenloomError('NOT_FOUND', `no music at ${spec}: the file or folder does not exist`);
  if (statSync(spec).isDirectory()) return loadMidiFolder(spec, options);
  if (options.styleFromSubfolders) throw new GenloomError('BAD_ARGUMENT', `--style-from-subfolders needs a folder, but ${spec} is a file`);
  if (/\.json$/i.test(spec)) return loadPianoRollFile(spec, options);
  if (/\.midi?$/i.test(spec)) {
    const score = readMidi(spec);
    const style = basename(spec, extname(spec));
    return { name: spec, kind: 'midi', styles: [style], pieces: [{ name: spec, split: 'train', style: 0, notes: score.notes }], skipped: [], bpm: score.bpm, beatsPerBar: score.beatsPerBar };
  }
  throw new GenloomError('BAD_ARGUMENT', `${spec} is neither a piano-roll .json file, a .mid file nor a folder`);
}

function loadPianoRollFile(path: string, options: MusicDatasetOptions): MusicDataset {
  const parsed = readJsonFile(path);
  const name = basename(path);
  // The name decides (a model on a finer grid than the file's still reads the file as it is).
  const stepsPerQuarter = (/quarter/i.test(name) ? 1 : /16th|sixteenth/i.test(name) ? 4 : undefined) ?? options.stepsPerQuarter;
  if (stepsPerQuarter === undefined) throw new GenloomError('BAD_ARGUMENT', `${path}: its name does not say whether a frame is a quarter or a 16th note; give --steps-per-quarter`);
  const record = parsed as Record<string, unknown>;
  const splits: [string, MusicSplit][] = [['train', 'train'], ['valid', 'validation'], ['test', 'test']];
  if (!record || typeof record !== 'object' || !Array.isArray(record['train'])) {
    throw new GenloomError('CORRUPT_FILE', `${path} is not a piano-roll dataset: expected {"train": [...], "valid": [...], "test": [...]} of pieces, each a list of frames of MIDI pitches`);
  }
  const pieces: Piece[] = [];
  for (const [key, split] of splits) {
    const list = record[key] ?? [];
    if (!Array.isArray(list)) throw new GenloomError('CORRUPT_FILE', `${path}: "${key}" is not a list of pieces`);
    list.forEach((piece, index) => {
      const where = `${path}: ${key}[${index}]`;
      if (!Array.isArray(piece) || piece.length === 0) throw new GenloomError('CORRUPT_FILE', `${where} is not a non-empty list of frames`);
      const frames = piece.map((frame, t) => {
        if (!Array.isArray(frame) || !frame.every((pitch) => Number.isInteger(pitch) && pitch >= -1 && pitch <= 127)) {
          throw new GenloomError('CORRUPT_FILE', `${where}, frame ${t}: expected a list of MIDI pitches 0..127 (−1 for a silent voice)`);
        }
        // Unisons (two voices on one pitch) are one key on a piano roll.
        return [...new Set(frame.filter((pitch: number) => pitch >= 0))].sort((a, b) => a - b);
      });
      pieces.push({ name: `${key}[${index}]`, split, style: 0, notes: pianoRollToNotes(frames, stepsPerQuarter), frames });
    });
  }
  if (!pieces.some((piece) => piece.split === 'train' && piece.notes.length > 0)) throw new GenloomError('EMPTY_DATASET', `${path} has no training pieces with notes`);
  const style = /jsb|bach|chorale/i.test(name) ? 'bach' : basename(name, extname(name));
  return { name: path, kind: 'piano-roll', stepsPerQuarter, styles: [style], pieces, skipped: [], bpm: 100, beatsPerBar: 4 };
}

/** MIDI files under `dir`, recursively, sorted (appended one by one: a folder may hold more files than a call has room for arguments). */
function listMidiFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) listMidiFiles(path, out);
    else if (/\.midi?$/i.test(entry.name)) out.push(path);
  }
  return out;
}

/** The split of a file: a hash of its path within the folder, so adding files never moves the others. */
function splitOf(relativePath: string): MusicSplit {
  const u = fromSeed('music-split').fork(relativePath).uniform();
  return u < 0.1 ? 'validation' : u < 0.2 ? 'test' : 'train';
}

function loadMidiFolder(dir: string, options: MusicDatasetOptions): MusicDataset {
  const files = listMidiFiles(dir);
  if (files.length === 0) throw new GenloomError('EMPTY_DATASET', `${dir} has no .mid or .midi files`);
  const styles: string[] = [];
  const pieces: Piece[] = [];
  const skipped: { file: string; reason: string }[] = [];
  const tempos: number[] = [];
  const bars: number[] = [];
  for (const file of files) {
    const path = relative(dir, file);
    let style = basename(dir);
    if (options.styleFromSubfolders) {
      const parts = path.split(sep);
      if (parts.length < 2) {
        skipped.push({ file, reason: `${file} is not in a style subfolder` });
        continue;
      }
      style = parts[0]!;
    }
    try {
      const score = readMidi(file);
      if (!styles.includes(style)) styles.push(style);
      // Small folders train on everything: a split of a handful of files would leave no training data.
      pieces.push({ name: path, split: files.length >= 10 ? splitOf(path) : 'train', style: styles.indexOf(style), notes: score.notes });
      tempos.push(score.bpm);
      bars.push(score.beatsPerBar);
    } catch (error) {
      if (!(error instanceof GenloomError)) throw error;
      skipped.push({ file, reason: error.message });
    }
  }
  if (pieces.length === 0) throw new GenloomError('EMPTY_DATASET', `no readable MIDI files with notes in ${dir} (${skipped.length} skipped: ${skipped.slice(0, 3).map((s) => s.reason).join('; ')}${skipped.length > 3 ? '; …' : ''})`);
  if (!pieces.some((piece) => piece.split === 'train')) pieces[0]!.split = 'train';
  return { name: dir, kind: 'midi', styles, pieces, skipped, bpm: median(tempos), beatsPerBar: median(bars) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
