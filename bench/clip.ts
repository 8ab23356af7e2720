/**
 * The contrastive image–text model's training step, on each backend compared, and its twin in
 * PyTorch (bench/peers/clip_small.py): the default ("small") clip model on a batch of 128 random
 * 32×32 colour images and 128 random captions of 16 tokens, with the symmetric InfoNCE loss.
 * Also how fast it embeds images and texts. Inputs are random, so the numbers measure compute only.
 */
import { fromSeed } from '../src/core/random.ts';
import * as tf from '../src/core/tf.ts';
import { initEngine } from '../src/core/engine.ts';
import { parseClipConfig } from '../src/models/clip/config.ts';
import { Clip } from '../src/models/clip/clip.ts';
import { AdamW } from '../src/train/adam.ts';
import { pytorchStepRows } from './peers.ts';
import type { BenchOptions, BenchRow } from './run.ts';
import { adamStep, medianMs, stepTiming } from './timing.ts';

const vocabulary = 1025;
const tokens = 16;

function measure(quick: boolean, batchSize: number): { stepMs: number; kernels: number; embedImagesMs: number; embedTextsMs: number } {
  const clip = new Clip(parseClipConfig({ vocabularySize: vocabulary }), fromSeed(1));
  const optimizer = new AdamW(clip.params);
  const random = fromSeed('clip-bench');
  const batch = {
    images: tf.tensor4d(random.uniformArray(batchSize * 32 * 32 * 3), [batchSize, 32, 32, 3]),
    tokens: tf.tensor2d(Int32Array.from({ length: batchSize * tokens }, () => random.integer(vocabulary - 1)), [batchSize, tokens], 'int32'),
    ends: tf.tensor1d(new Int32Array(batchSize).fill(tokens - 1), 'int32'),
  };
  const repeats = quick ? 3 : 10;
  const { ms: stepMs, kernels } = stepTiming(() => adamStep(clip.params, optimizer, () => clip.loss(batch).total), repeats, 2);
  const embedImagesMs = medianMs(() => tf.tidy(() => clip.encodeImages(batch.images).dataSync()), repeats);
  const embedTextsMs = medianMs(() => tf.tidy(() => clip.encodeTexts(batch.tokens, batch.ends).dataSync()), repeats);
  tf.dispose(batch);
  optimizer.dispose();
  clip.dispose();
  return { stepMs, kernels, embedImagesMs, embedTextsMs };
}

export async function benchClip({ quick, backends }: BenchOptions): Promise<BenchRow[]> {
  const batchSize = 128;
  const repeats = quick ? 3 : 10;
  const subject = 'CLIP train step (batch 128, 32×32 RGB + 16 tokens)';
  const rows: BenchRow[] = [];
  const steps: [string, number][] = [];
  for (const backend of backends) {
    await initEngine({ backend });
    const { stepMs, kernels, embedImagesMs, embedTextsMs } = measure(quick, batchSize);
    steps.push([backend, stepMs]);
    rows.push(
      { name: `${backend}: clip train step (batch 128)`, value: stepMs, unit: 'ms', note: `median of ${repeats}; ${kernels} kernels per step`, kind: 'step', subject, runner: backend, stepMs, kernels },
      { name: `${backend}: train throughput`, value: (batchSize * 1000) / stepMs, unit: 'pairs/s' },
      { name: `${backend}: embed 128 images`, value: embedImagesMs, unit: 'ms' },
      { name: `${backend}: embed 128 captions`, value: embedTextsMs, unit: 'ms' },
    );
  }
  rows.push(...pytorchStepRows('clip_small.py', (threads) => [String(threads), String(repeats), String(batchSize)], subject, steps, { perStep: batchSize, unit: 'pairs/s' }));
  return rows;
}
