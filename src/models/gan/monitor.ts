/**
 * Watches a GAN for mode collapse while it trains. With a classifier for the dataset (the built-ins
 * ship one) it measures how evenly samples cover the classes; otherwise it compares the spread of
 * samples with the spread of real images. Either way a collapse prints a warning and is recorded.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { makeDirectories } from '../../io/atomic.ts';
import { truncateMetrics } from '../../train/trainer.ts';
import * as tf from '../../core/tf.ts';
import { fromSeed } from '../../core/random.ts';
import { gatherImages, isBuiltinDataset, type ImageDataset } from '../../data/index.ts';
import { classCoverageEntropy, conditionalAccuracy } from '../../metrics/image-metrics.ts';
import { embed, featureNetDir, loadFeatureNet } from '../../metrics/generator-eval.ts';
import type { Gan } from './gan.ts';

/** Below these, samples have stopped covering the data. Early samples are noise: no warning before `afterStep`. */
export const collapseThresholds = { classEntropy: 0.8, diversityRatio: 0.5, afterStep: 1000 };

export interface CollapseCheck {
  step: number;
  classEntropy?: number;
  conditionalAccuracy?: number;
  diversityRatio: number;
  warning?: string;
}

/** Mean pairwise distance between images [B, H, W, C] (a batch's spread). */
function meanPairwiseDistance(images: tf.Tensor4D): number {
  return tf.tidy(() => {
    const flat = images.reshape([images.shape[0], -1]) as tf.Tensor2D;
    const norms = tf.sum(tf.square(flat), 1);
    const squared = tf.relu(tf.add(tf.add(norms.reshape([-1, 1]), norms.reshape([1, -1])), tf.mul(tf.matMul(flat, flat, false, true), -2)));
    const count = images.shape[0];
    return tf.sum(tf.sqrt(squared)).dataSync()[0]! / (count * (count - 1));
  });
}

/** `resumeStep`: the step a resumed run continues from (later lines are dropped); absent for a fresh run. */
export function createCollapseMonitor(data: ImageDataset, datasetSpec: string, logPath: string, quiet: boolean, resumeStep?: number): (gan: Gan, step: number) => CollapseCheck {
  if (resumeStep === undefined) {
    makeDirectories(dirname(logPath));
    writeFileSync(logPath, '');
  } else {
    truncateMetrics(logPath, resumeStep);
  }
  const sampleCount = 500;
  const realSpread = tf.tidy(() => {
    const indices = fromSeed('collapse-monitor').permutation(data.count).subarray(0, Math.min(256, data.count));
    return meanPairwiseDistance(gatherImages(data, indices));
  });
  let featureNetPath: string | null = null;
  if (isBuiltinDataset(datasetSpec)) {
    try {
      featureNetPath = featureNetDir(datasetSpec);
    } catch {
      featureNetPath = null; // no shipped classifier: fall back to the spread check
    }
  }
  return (gan, step) => {
    const random = fromSeed('collapse-monitor').fork(step);
    const labels = gan.conditional ? Int32Array.from({ length: sampleCount }, (_, i) => i % gan.config.classes) : undefined;
    const check: CollapseCheck = { step, diversityRatio: 0 };
    const spreadSamples = gan.sample(Math.min(256, sampleCount), random.fork('spread'));
    check.diversityRatio = Number((meanPairwiseDistance(spreadSamples) / realSpread).toFixed(4));
    spreadSamples.dispose();
    if (featureNetPath) {
      const featureNet = loadFeatureNet(featureNetPath);
      try {
        const { predictions } = embed(featureNet.classifier, sampleCount, (start, size) =>
          gan.sample(size, random.fork('classes', start), labels ? { labels: labels.subarray(start, start + size) } : {}),
        );
        check.classEntropy = Number(classCoverageEntropy(predictions, featureNet.classifier.classes).toFixed(4));
        if (labels) check.conditionalAccuracy = Number(conditionalAccuracy(predictions, labels).toFixed(4));
      } finally {
        featureNet.dispose();
      }
    }
    if (step < collapseThresholds.afterStep) {
      // Too early to tell collapse from a generator that has not learned anything yet.
    } else if (check.classEntropy !== undefined && check.classEntropy < collapseThresholds.classEntropy) {
      check.warning = `possible mode collapse at step ${step}: samples cover the classes with entropy ${check.classEntropy} (1 = all classes equally; real data ≈ 1)`;
    } else if (check.diversityRatio < collapseThresholds.diversityRatio) {
      check.warning = `possible mode collapse at step ${step}: samples spread only ${check.diversityRatio}× as much as real images`;
    }
    appendFileSync(logPath, `${JSON.stringify(check)}\n`);
    if (check.warning && !quiet) process.stderr.write(`\nwarning: ${check.warning}\n`);
    return check;
  };
}
