/**
 * Turning drawn samples into files and feedback-store records, so that each rating or preference
 * points at a real output (PNG, text, MIDI + WAV + piano roll) with the model, seed and settings
 * that made it.
 */
import { basename, dirname, join, resolve } from 'node:path';
import { makeDirectories } from '../io/atomic.ts';
import { writePng, scaleUp, type ImageData01 } from '../io/image.ts';
import { writeWav } from '../music/audio.ts';
import { writeMidi } from '../music/midi.ts';
import { writePianoRoll } from '../music/piano-roll.ts';
import type { LoadedModel } from '../models/family.ts';
import type { Candidates } from './candidates.ts';
import { modelHash, type FeedbackStore } from './store.ts';

export interface CollectedSample {
  id: number;
  index: number;
  /** What to show a person: the file(s) and, for text, the text itself. */
  files: string[];
  image?: ImageData01;
  prompt?: string;
  text?: string;
}

/** The folder beside the store where a model's rated outputs are kept. */
export function samplesFolder(dbPath: string, modelDir: string, hash: string): string {
  return join(dirname(resolve(dbPath)), 'feedback-samples', `${basename(resolve(modelDir))}-${hash.slice(0, 8)}`);
}

/**
 * Writes each candidate's output and adds it to the store as a sample of `modelDir`. Sample i was
 * drawn as index i of `drawCandidates` with `seed` (recorded in its settings, so it can be drawn again).
 */
export function collectSamples(store: FeedbackStore, dbPath: string, model: LoadedModel, modelDir: string, candidates: Candidates, seed: number, settings: Record<string, unknown>): CollectedSample[] {
  const hash = modelHash(modelDir);
  const folder = samplesFolder(dbPath, modelDir, hash);
  makeDirectories(folder);
  const common = { model: modelDir, modelHash: hash, family: model.family, seed };
  const stem = (index: number) => join(folder, `seed-${seed}-${String(index).padStart(4, '0')}`);
  const out: CollectedSample[] = [];
  for (let index = 0; index < candidates.count; index++) {
    if (candidates.kind === 'image') {
      const [height, width, channels] = candidates.shape;
      const size = height * width * channels;
      const image: ImageData01 = { width, height, channels: channels as 1 | 3, data: candidates.pixels.slice(index * size, (index + 1) * size) };
      const path = `${stem(index)}.png`;
      writePng(path, width < 64 ? scaleUp(image, 4) : image);
      const record = store.addSample({ ...common, settings: { ...settings, index }, outputPath: path });
      out.push({ id: record.id, index, files: [path], image });
    } else if (candidates.kind === 'text') {
      const prompt = candidates.prompts[index]!;
      const text = candidates.texts[index]!;
      const record = store.addSample({ ...common, settings: { ...settings, index }, prompt, outputText: text });
      out.push({ id: record.id, index, files: [], prompt, text });
    } else {
      const notes = candidates.pieces[index]!;
      const path = `${stem(index)}.mid`;
      writeMidi(path, { notes, bpm: candidates.bpm, beatsPerBar: candidates.beatsPerBar });
      writeWav(path.replace(/\.mid$/, '.wav'), notes, { bpm: candidates.bpm });
      writePianoRoll(path.replace(/\.mid$/, '.png'), notes, { beatsPerBar: candidates.beatsPerBar });
      const record = store.addSample({ ...common, settings: { ...settings, index }, outputPath: path });
      out.push({ id: record.id, index, files: [path, path.replace(/\.mid$/, '.wav'), path.replace(/\.mid$/, '.png')] });
    }
  }
  return out;
}
