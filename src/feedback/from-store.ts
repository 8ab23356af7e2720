/**
 * What `finetune` takes from the feedback store: a model's rated samples as scored candidates (for
 * rejection and reward-weighted fine-tuning) and its A/B preferences as DPO pairs. Feedback is
 * matched to the model by the hash of its weights, so a sample of another model is never used, and
 * a store with none for this model says what it does hold.
 */
import { existsSync } from 'node:fs';
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';
import { readImagesForModel } from '../io/tensor-image.ts';
import { readMidi } from '../music/midi.ts';
import type { ImagePreferencePair, LoadedModel } from '../models/family.ts';
import type { Candidates } from './candidates.ts';
import type { PreferencePair } from './dpo.ts';
import type { RewardScores } from './rewards.ts';
import { FeedbackStore, modelHash } from './store.ts';

/** A normalised rating at or above this counts as a hit (👍, or 4 and 5 stars). */
const goodRating = 0.75;

function openExisting(db: string): FeedbackStore {
  if (!existsSync(db)) throw new GenloomError('NOT_FOUND', `no feedback store at ${db}: record some with genloom rate`);
  return FeedbackStore.open(db);
}

function nothingFor(db: string, what: string, modelDir: string, store: FeedbackStore): GenloomError {
  const counts = store.counts();
  return new GenloomError('EMPTY_DATASET', `${db} has no ${what} of ${modelDir} (it holds ${counts.samples} samples, ${counts.ratings} ratings and ${counts.preferences} preferences, of other models or unrated): record some with genloom rate ${modelDir} --db ${db}${what === 'preferences' ? ' --pairs' : ''}`);
}

/** The model's rated samples, each scored by its mean normalised rating in [0, 1]. */
export function ratedCandidates(db: string, modelDir: string, model: LoadedModel): { candidates: Candidates; scores: RewardScores } {
  const store = openExisting(db);
  try {
    const rated = store.ratedSamples(modelHash(modelDir));
    if (rated.length === 0) throw nothingFor(db, 'rated samples', modelDir, store);
    const rewards = Float64Array.from(rated, (sample) => sample.score);
    const scores = { rewards, hits: Uint8Array.from(rewards, (reward) => (reward >= goodRating ? 1 : 0)) };
    const files = rated.map((sample) => {
      if (!sample.outputPath && sample.outputText === null) throw new GenloomError('CORRUPT_FILE', `${db}: sample ${sample.id} has no output`);
      if (sample.outputPath && !existsSync(sample.outputPath)) throw new GenloomError('NOT_FOUND', `${db}: the output of sample ${sample.id}, ${sample.outputPath}, is missing`);
      return sample.outputPath ?? '';
    });
    if (model.music) {
      return { candidates: { kind: 'music', count: rated.length, pieces: files.map((file) => readMidi(file).notes), bpm: model.music.bpm, beatsPerBar: model.music.beatsPerBar }, scores };
    }
    if (model.text) {
      return { candidates: { kind: 'text', count: rated.length, prompts: rated.map((sample) => sample.prompt ?? ''), texts: rated.map((sample) => sample.outputText ?? '') }, scores };
    }
    const shape = model.imageShape!;
    const images = readImagesForModel(files, shape);
    const pixels = images.dataSync() as Float32Array;
    tf.dispose(images);
    return { candidates: { kind: 'image', count: rated.length, shape, pixels }, scores };
  } finally {
    store.close();
  }
}

/** The model's A/B preferences as (prompt, chosen, rejected): texts, or image files (image models), and who made them. */
export function storePreferencePairs(db: string, modelDir: string): { pairs: PreferencePair[]; imagePairs: ImagePreferencePair[]; raters: string[] } {
  const store = openExisting(db);
  try {
    const preferences = store.preferences({ modelHash: modelHash(modelDir) });
    if (preferences.length === 0) throw nothingFor(db, 'preferences', modelDir, store);
    const pairs: PreferencePair[] = [];
    const imagePairs: ImagePreferencePair[] = [];
    for (const preference of preferences) {
      const { chosen, rejected } = preference;
      if (chosen.outputText !== null && rejected.outputText !== null) {
        pairs.push({ prompt: chosen.prompt ?? '', chosen: chosen.outputText, rejected: rejected.outputText });
      } else if (chosen.outputPath && rejected.outputPath) {
        // Image preferences (Diffusion-DPO): the files the store recorded, which must still be there.
        for (const sample of [chosen, rejected]) {
          if (!existsSync(sample.outputPath!)) throw new GenloomError('NOT_FOUND', `${db}: the output of sample ${sample.id}, ${sample.outputPath}, is missing`);
        }
        imagePairs.push({ prompt: chosen.prompt ?? '', chosen: chosen.outputPath, rejected: rejected.outputPath });
      } else {
        throw new GenloomError('UNSUPPORTED', `${db}: preference ${preference.id} is between a text and a file; DPO learns from two of one kind`);
      }
    }
    return { pairs, imagePairs, raters: [...new Set(preferences.map((preference) => preference.rater))].sort() };
  } finally {
    store.close();
  }
}
