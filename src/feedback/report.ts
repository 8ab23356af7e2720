/**
 * `genloom feedback report CHILD`: did the fine-tune work? The parent and the child draw samples
 * with the same seeds (texts from the same held-out prompts); both are scored with the reward the
 * child was trained for, and judged by their family's quality metric, so a reward gained by
 * wrecking quality shows:
 *   images  fid_target: the Fréchet distance (classifier features) between the samples that hit
 *           the target and real test images of that label, on equal numbers from both models;
 *           fid_base: all samples against the base dataset's images.
 *   text    validation loss on the base corpus's held-out split; win_rate against the parent
 *           under the rater (ties count half).
 *   music   frame NLL on the base dataset's test pieces.
 * Pictures go to CHILD/report/: the two sample grids side by side, the reward distributions, the
 * texts or pieces.
 */
import { join } from 'node:path';
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import { isBuiltinDataset, loadImageDataset } from '../data/index.ts';
import { makeDirectories, writeFileAtomic } from '../io/atomic.ts';
import { readManifest } from '../io/checkpoint.ts';
import { imageGrid, imageStrip, scaleUp, writePng, type ImageData01 } from '../io/image.ts';
import { plotLines } from '../io/plot.ts';
import { fidClipOfImageSets } from '../metrics/clip-metrics.ts';
import { embed, featureNetDir, loadFeatureNet } from '../metrics/generator-eval.ts';
import { fitGaussian, frechetDistance } from '../metrics/image-metrics.ts';
import type { LoadedModel } from '../models/family.ts';
import { loadModel } from '../models/registry.ts';
import { writeMidi } from '../music/midi.ts';
import { writePianoRoll } from '../music/piano-roll.ts';
import { datasetPrompts, drawCandidates, round, scoreCandidates, summarizeScores, type Candidates, type ImageCandidates } from './candidates.ts';
import { baseDataset, parseReward, rewardKindOf, type Reward, type RewardScores } from './rewards.ts';

export interface ReportOptions {
  /** Samples per model (default: 1000 images, 64 texts, 16 pieces). */
  samples?: number;
  seed: number;
  /** The reward or rater to judge by (default: the one the child was trained with). */
  reward?: string;
  quiet: boolean;
}

const defaultSamples = { image: 1000, text: 64, music: 16 };

/** Compares a fine-tuned model with its parent; writes pictures to CHILD/report/ and returns the figures. */
export async function feedbackReport(childDir: string, options: ReportOptions): Promise<Record<string, unknown>> {
  const childManifest = readManifest(childDir);
  const parentDir = childManifest.parent;
  if (!parentDir) throw new GenloomError('BAD_ARGUMENT', `${childDir} has no parent in its config.json: it was not made by genloom finetune`);
  const feedback = (childManifest.training['feedback'] ?? {}) as Record<string, unknown>;
  const rewardSpec = options.reward ?? (feedback['reward'] as string | undefined) ?? (feedback['rater'] as string | undefined);
  const kind = rewardKindOf(childManifest.family);
  const count = options.samples ?? defaultSamples[kind];
  const reportDir = join(childDir, 'report');
  makeDirectories(reportDir);
  const parent = loadModel(parentDir);
  const child = loadModel(childDir);
  const reward = rewardSpec ? parseReward(rewardSpec, parent.manifest, parentDir) : null;
  try {
    // Both models see the same seeds and the fine-tune's own prompts when it was given some (text and
    // text-to-image), else for text the same held-out prompts (text-to-image: training captions),
    // drawn as the fine-tune drew its candidates.
    const givenPrompts = feedback['prompts'] as string[] | undefined;
    const prompts = givenPrompts ?? (kind === 'text' ? datasetPrompts(parent, 'validation', count, options.seed) : undefined);
    const maxTokens = feedback['maxTokens'] as number | undefined;
    const draw = (model: LoadedModel, dir: string) =>
      drawCandidates(model, dir, { count, seed: options.seed, prompts, ...(maxTokens ? { text: { maxTokens } } : {}), bars: feedback['bars'] as number | undefined, quiet: options.quiet });
    const samples = { parent: draw(parent, parentDir), child: draw(child, childDir) };
    const scores = reward ? { parent: scoreCandidates(reward, samples.parent), child: scoreCandidates(reward, samples.child) } : null;
    const report: Record<string, unknown> = {
      model: childDir,
      parentModel: parentDir,
      family: childManifest.family,
      method: feedback['method'] ?? 'transfer',
      reward: rewardSpec ?? null,
      ...(reward ? { rewardDescription: reward.description } : {}),
      samples: count,
      seed: options.seed,
    };
    const quality = await qualityMetrics(kind, { parent, child }, samples, scores, reward, options);
    report['parent'] = { model: parentDir, ...(scores ? summaryOf(scores.parent) : {}), ...quality.parent };
    report['child'] = { model: childDir, ...(scores ? summaryOf(scores.child) : {}), ...quality.child };
    if (kind === 'text' && scores) Object.assign(report, winRate(scores.child, scores.parent));
    report['files'] = await writePictures(kind, samples, scores, reportDir);
    report['date'] = new Date().toISOString().slice(0, 10);
    writeFileAtomic(join(reportDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    reward?.dispose();
    parent.dispose();
    child.dispose();
  }
}

function summaryOf(scores: RewardScores): { reward_mean: number; target_share: number } {
  const { rewardMean, targetShare } = summarizeScores(scores);
  return { reward_mean: rewardMean, target_share: targetShare };
}

/** Child against parent sample by sample (same seed, same prompt): a higher reward wins, ties count half. */
export function winRate(child: RewardScores, parent: RewardScores): { win_rate: number; wins: number; losses: number; ties: number } {
  let wins = 0;
  let losses = 0;
  child.rewards.forEach((reward, i) => {
    if (reward > parent.rewards[i]!) wins += 1;
    else if (reward < parent.rewards[i]!) losses += 1;
  });
  const ties = child.rewards.length - wins - losses;
  return { win_rate: round((wins + ties / 2) / child.rewards.length), wins, losses, ties };
}

type Pair<T> = { parent: T; child: T };

async function qualityMetrics(kind: string, models: Pair<LoadedModel>, samples: Pair<Candidates>, scores: Pair<RewardScores> | null, reward: Reward | null, options: ReportOptions): Promise<Pair<Record<string, unknown>>> {
  const base = baseDataset(models.parent.manifest);
  if (kind === 'image') return imageQuality(samples as Pair<ImageCandidates>, scores, reward, base);
  // The base corpus's held-out split for both, so the child is judged on the parent's data, not its own.
  const evaluate = async (model: LoadedModel) => {
    const result = (await model.evaluate?.({ dataset: base, seed: options.seed, quiet: options.quiet })) ?? {};
    return kind === 'text' ? { validation_loss: result['loss'], validation_split: `${base} ${result['split']}` } : { frame_nll: result['frameNll'], eval_dataset: base };
  };
  return { parent: await evaluate(models.parent), child: await evaluate(models.child) };
}

function imageQuality(samples: Pair<ImageCandidates>, scores: Pair<RewardScores> | null, reward: Reward | null, base: string): Pair<Record<string, unknown>> {
  const target = reward?.kind === 'image' ? reward.target : undefined;
  // Colour models are judged in a clip model's features (fid_clip), as `genloom eval` judges them.
  if (samples.parent.shape[2] === 3 && !target) {
    const { featureNet, againstTrainImages, fids } = fidClipOfImageSets(base, samples.parent.shape, [samples.parent, samples.child]);
    return { parent: { fid_clip: fids[0], fid_clip_against: `${againstTrainImages} ${base} training images in ${featureNet}` }, child: { fid_clip: fids[1] } };
  }
  if (!isBuiltinDataset(base) && !target) return { parent: {}, child: {} };
  const classifierDir = target?.classifierDir ?? featureNetDir(base);
  const net = loadFeatureNet(classifierDir);
  try {
    const { classifier } = net;
    const [height, width, channels] = samples.parent.shape;
    const size = height * width * channels;
    const embedRows = (pixels: Float32Array, rows: number[]) =>
      embed(classifier, rows.length, (start, n) => {
        const batch = new Float32Array(n * size);
        for (let i = 0; i < n; i++) batch.set(pixels.subarray(rows[start + i]! * size, (rows[start + i]! + 1) * size), i * size);
        return tf.tensor4d(batch, [n, height, width, channels]);
      }).features;
    const allRows = (candidates: ImageCandidates) => Array.from({ length: candidates.count }, (_, i) => i);
    const real = isBuiltinDataset(base) ? loadImageDataset(base, { split: 'test' }) : null;
    const out: Pair<Record<string, unknown>> = { parent: {}, child: {} };
    if (real) {
      const realRows = Array.from(fromSeed('feedback-report-real').permutation(real.count).subarray(0, Math.min(real.count, 5000)));
      const realFit = fitGaussian(embedRows(real.pixels, realRows));
      for (const side of ['parent', 'child'] as const) out[side]['fid_base'] = round(frechetDistance(realFit, fitGaussian(embedRows(samples[side].pixels, allRows(samples[side])))));
      out.parent['fid_base_against'] = `${realRows.length} ${base} test images`;
      if (target && scores && real.labels) {
        const realTarget = Array.from({ length: real.count }, (_, i) => i).filter((i) => real.labels![i] === target.label);
        const targetFit = fitGaussian(embedRows(real.pixels, realTarget));
        const hits = { parent: allRows(samples.parent).filter((i) => scores.parent.hits[i]), child: allRows(samples.child).filter((i) => scores.child.hits[i]) };
        // Equal counts from both models: the Fréchet distance of a small sample is biased upward.
        const equal = Math.min(hits.parent.length, hits.child.length);
        for (const side of ['parent', 'child'] as const) {
          out[side]['fid_target'] = equal >= 2 ? round(frechetDistance(targetFit, fitGaussian(embedRows(samples[side].pixels, hits[side].slice(0, equal))))) : null;
        }
        out.parent['fid_target_against'] = `${realTarget.length} real ${base} test images labelled ${target.name}, ${equal} samples of each model`;
      }
    }
    return out;
  } finally {
    net.dispose();
  }
}

/** Sample grids side by side, reward distributions, texts or pieces; returns the files written. */
async function writePictures(kind: string, samples: Pair<Candidates>, scores: Pair<RewardScores> | null, dir: string): Promise<string[]> {
  const files: string[] = [];
  if (kind === 'image') {
    const grids = (['parent', 'child'] as const).map((side) => {
      const candidates = samples[side] as ImageCandidates;
      const [height, width, channels] = candidates.shape;
      const size = height * width * channels;
      const tiles: ImageData01[] = Array.from({ length: Math.min(64, candidates.count) }, (_, i) => ({ width, height, channels: channels as 1 | 3, data: candidates.pixels.slice(i * size, (i + 1) * size) }));
      return imageGrid(tiles, { columns: 8 });
    });
    const path = join(dir, 'compare.png');
    writePng(path, scaleUp(imageStrip(grids, { padding: 8, background: 1 }), 2));
    files.push(path);
  } else if (kind === 'text') {
    const parent = samples.parent as Extract<Candidates, { kind: 'text' }>;
    const child = samples.child as Extract<Candidates, { kind: 'text' }>;
    const lines = parent.prompts.slice(0, 32).flatMap((prompt, i) => [
      `## ${i + 1}. “${prompt}”`,
      '',
      `parent${scores ? ` (reward ${round(scores.parent.rewards[i]!)})` : ''}: ${prompt}${parent.texts[i]}`.replace(/\n/g, ' ⏎ '),
      '',
      `child${scores ? ` (reward ${round(scores.child.rewards[i]!)})` : ''}: ${prompt}${child.texts[i]}`.replace(/\n/g, ' ⏎ '),
      '',
    ]);
    const path = join(dir, 'texts.md');
    writeFileAtomic(path, `# Parent and child on the same held-out prompts and seeds\n\n${lines.join('\n')}`);
    files.push(path);
  } else {
    for (const side of ['parent', 'child'] as const) {
      const pieces = samples[side] as Extract<Candidates, { kind: 'music' }>;
      const stem = join(dir, side);
      writeMidi(`${stem}.mid`, { notes: pieces.pieces[0]!, bpm: pieces.bpm, beatsPerBar: pieces.beatsPerBar });
      writePianoRoll(`${stem}.png`, pieces.pieces[0]!, { beatsPerBar: pieces.beatsPerBar });
      files.push(`${stem}.mid`, `${stem}.png`);
    }
  }
  if (scores) {
    // Each model's rewards sorted: the whole distribution at a glance (higher curve = better).
    const curve = (values: Float64Array) => [...values].sort((a, b) => a - b).map((y, i) => ({ x: (i + 0.5) / values.length, y }));
    const path = join(dir, 'rewards.png');
    writeFileAtomic(path, await plotLines([{ name: 'parent', points: curve(scores.parent.rewards) }, { name: 'child', points: curve(scores.child.rewards) }], { title: 'reward distribution (sorted samples)', xLabel: 'share of samples', yLabel: 'reward' }));
    files.push(path);
  }
  return files;
}
