/**
 * Fine-tuning from scores — an algorithmic reward or people's ratings — for every family, by the
 * family's own training loss on a dataset made of scored samples:
 *
 *   rejection        keep the best `keep` share of the candidates and train on them (rejection-sampling
 *                    fine-tuning, as in RAFT / ReST's improve step);
 *   reward-weighted  reward-weighted regression (Peters & Schaal 2007): each candidate's loss is
 *                    weighted by exp(r/τ). We draw the training set from the candidates with
 *                    probability ∝ exp(r/τ) instead, which is the same objective in expectation and
 *                    leaves every family's loss untouched.
 *
 * The dataset is written into the run (feedback/data.safetensors for images, data.txt for text, a
 * folder of MIDI for music) and is the run's `--dataset`, so `--resume` and `eval --dataset` work.
 * Conditional image models get fresh uniform labels for the kept samples: a reward says what every
 * sample should look like, so it overrides the labels (to get one class without fine-tuning, sample
 * with --label).
 */
import { join } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import * as tf from '../core/tf.ts';
import { writeImageDatasetFile } from '../data/image-file.ts';
import { makeDirectories, writeFileAtomic } from '../io/atomic.ts';
import { readManifest } from '../io/checkpoint.ts';
import { writeImageGrid } from '../io/tensor-image.ts';
import { writePng } from '../io/image.ts';
import { writeMidi } from '../music/midi.ts';
import type { TrainRequest, TrainSummary } from '../models/family.ts';
import { getFamily } from '../models/registry.ts';
import { round, summarizeScores, type Candidates } from './candidates.ts';
import type { RewardScores } from './rewards.ts';

export type ScoreMethod = 'rejection' | 'reward-weighted';

export interface Selection {
  /** Candidate indices of the training set, repeated for reward-weighted draws. */
  indices: number[];
  record: Record<string, unknown>;
}

/**
 * Which candidates the fine-tune trains on. `keep` is the share rejection keeps; `temperature` is
 * reward-weighted regression's τ (smaller: greedier).
 */
export function selectCandidates(scores: RewardScores, method: ScoreMethod, options: { keep: number; temperature: number; seed: number }): Selection {
  const count = scores.rewards.length;
  if (count === 0) throw new GenloomError('EMPTY_DATASET', 'there are no scored samples to fine-tune on');
  const all = summarizeScores(scores);
  if (method === 'rejection') {
    if (!(options.keep > 0 && options.keep <= 1)) throw new GenloomError('BAD_ARGUMENT', `--keep must be a share in (0, 1], got ${options.keep}`);
    const kept = Math.max(1, Math.round(options.keep * count));
    // Ties broken by index, so the selection is deterministic.
    const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => scores.rewards[b]! - scores.rewards[a]! || a - b);
    const indices = order.slice(0, kept).sort((a, b) => a - b);
    const keptSummary = summarizeScores(scores, indices);
    return {
      indices,
      record: { keepShare: options.keep, kept, rewardThreshold: round(scores.rewards[order[kept - 1]!]!), candidateRewardMean: all.rewardMean, candidateTargetShare: all.targetShare, keptRewardMean: keptSummary.rewardMean, keptTargetShare: keptSummary.targetShare },
    };
  }
  if (!(options.temperature > 0)) throw new GenloomError('BAD_ARGUMENT', `--temperature must be > 0, got ${options.temperature}`);
  const best = Math.max(...scores.rewards);
  const weights = Float64Array.from(scores.rewards, (reward) => Math.exp((reward - best) / options.temperature));
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  const effective = total ** 2 / weights.reduce((sum, weight) => sum + weight * weight, 0);
  const cumulative = new Float64Array(count);
  weights.reduce((sum, weight, i) => (cumulative[i] = sum + weight / total), 0);
  const random = fromSeed(options.seed).fork('reward-weighted-draw');
  const indices = Array.from({ length: count }, () => {
    const u = random.uniform();
    let low = 0;
    let high = count - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (cumulative[middle]! < u) low = middle + 1;
      else high = middle;
    }
    return low;
  }).sort((a, b) => a - b);
  const drawn = summarizeScores(scores, indices);
  return {
    indices,
    record: { temperature: options.temperature, effectiveSampleSize: round(effective), distinctDrawn: new Set(indices).size, candidateRewardMean: all.rewardMean, candidateTargetShare: all.targetShare, keptRewardMean: drawn.rewardMean, keptTargetShare: drawn.targetShare },
  };
}

/**
 * Writes the selected candidates as the run's dataset under `<outDir>/feedback/` and returns its
 * path (what the family's train() reads as --dataset).
 */
export function writeFeedbackDataset(candidates: Candidates, indices: number[], outDir: string, labels: { names?: string[]; seed: number }): string {
  const dir = join(outDir, 'feedback');
  makeDirectories(dir);
  if (candidates.kind === 'image' && candidates.prompts) {
    // Text-to-image samples: a folder of PNGs, each with its prompt as the caption beside it.
    const folder = join(dir, 'data');
    makeDirectories(folder);
    const [height, width, channels] = candidates.shape;
    const size = height * width * channels;
    indices.forEach((index, i) => {
      const name = join(folder, String(i).padStart(5, '0'));
      writePng(`${name}.png`, { width, height, channels: channels as 1 | 3, data: candidates.pixels.slice(index * size, (index + 1) * size) });
      writeFileAtomic(`${name}.txt`, `${candidates.prompts![index]}\n`);
    });
    return folder;
  }
  if (candidates.kind === 'image') {
    const [height, width, channels] = candidates.shape;
    const size = height * width * channels;
    const pixels = new Float32Array(indices.length * size);
    indices.forEach((index, i) => pixels.set(candidates.pixels.subarray(index * size, (index + 1) * size), i * size));
    const random = fromSeed(labels.seed).fork('feedback-labels');
    const names = labels.names;
    const path = join(dir, 'data.safetensors');
    writeImageDatasetFile(path, {
      count: indices.length,
      height,
      width,
      channels: channels as 1 | 3,
      pixels,
      ...(names ? { labels: Int32Array.from(indices, () => random.integer(names.length)), labelNames: names } : {}),
    });
    // The distinct kept samples, for a person to look at.
    const distinct = [...new Set(indices)].slice(0, 64);
    const shown = new Float32Array(distinct.length * size);
    distinct.forEach((index, i) => shown.set(candidates.pixels.subarray(index * size, (index + 1) * size), i * size));
    const grid = tf.tensor4d(shown, [distinct.length, height, width, channels]);
    writeImageGrid(join(dir, 'kept.png'), grid);
    grid.dispose();
    return path;
  }
  if (candidates.kind === 'text') {
    const path = join(dir, 'data.txt');
    writeFileAtomic(path, `${indices.map((index) => `${candidates.prompts[index]}${candidates.texts[index]}`.trim()).join('\n')}\n`);
    return path;
  }
  const folder = join(dir, 'data');
  makeDirectories(folder);
  indices.forEach((index, i) => writeMidi(join(folder, `piece-${String(i).padStart(4, '0')}.mid`), { notes: candidates.pieces[index]!, bpm: candidates.bpm, beatsPerBar: candidates.beatsPerBar }));
  return folder;
}

export interface ScoredFinetuneOptions {
  parentDir: string;
  candidates: Candidates;
  scores: RewardScores;
  method: ScoreMethod;
  keep: number;
  temperature: number;
  /** The run's request without dataset and parent, which this fills in. */
  request: Omit<TrainRequest, 'dataset' | 'parent' | 'feedback'>;
  /** What scored the samples: { reward: spec } or { ratings: db }, kept in config.json. */
  source: Record<string, unknown>;
}

/** Selects, writes the dataset and fine-tunes the parent on it through its family. */
export async function finetuneOnScores(options: ScoredFinetuneOptions): Promise<TrainSummary & { feedback: Record<string, unknown> }> {
  const parent = readManifest(options.parentDir);
  const { request } = options;
  const selection = selectCandidates(options.scores, options.method, { keep: options.keep, temperature: options.temperature, seed: request.seed });
  const conditional = Number(parent.config['classes'] ?? 0) > 0;
  const names = conditional ? (parent.training['labelNames'] as string[] | undefined) ?? Array.from({ length: Number(parent.config['classes']) }, (_, i) => String(i)) : undefined;
  const dataset = writeFeedbackDataset(options.candidates, selection.indices, request.outDir, { names, seed: request.seed });
  const feedback = { method: options.method, ...options.source, candidates: options.candidates.count, ...selection.record, ...(conditional ? { labels: 'uniform: a reward overrides the labels' } : {}) };
  const summary = await getFamily(parent.family).train({ ...request, dataset, parent: options.parentDir, feedback });
  return { ...summary, feedback };
}
