/**
 * Convolution speed, on each backend compared: training throughput of the default (`small`) MNIST
 * VAE at batch 64 (two strided convolutions, two transposed ones, four dense layers), its twin in
 * PyTorch where python3 has torch (bench/peers/vae_small.py, in each setting of peerSettings), and
 * sampling latency. Inputs are random images of MNIST's shape, so the numbers measure compute only.
 */
import { fromSeed } from '../src/core/random.ts';
import * as tf from '../src/core/tf.ts';
import { parseVaeConfig } from '../src/models/vae/config.ts';
import { Vae } from '../src/models/vae/vae.ts';
import { AdamW } from '../src/train/adam.ts';
import { initEngine } from '../src/core/engine.ts';
import { pytorchStepRows } from './peers.ts';
import type { BenchOptions, BenchRow } from './run.ts';
import { adamStep, medianMs, stepTiming } from './timing.ts';

function measure(quick: boolean, batchSize: number): { stepMs: number; kernels: number; sample1: number; sample64: number } {
  const vae = new Vae(parseVaeConfig({}), fromSeed(1));
  const optimizer = new AdamW(vae.params);
  const images = tf.tidy(() => tf.randomUniform([batchSize, 28, 28, 1], 0, 1, 'float32', 1)) as tf.Tensor4D;
  const step = (i: number) => adamStep(vae.params, optimizer, () => vae.loss(images, fromSeed(i)).total);
  const repeats = quick ? 3 : 10;
  const { ms: stepMs, kernels } = stepTiming((i) => step(i + 2), repeats, 2);
  const sampleMs = (count: number) =>
    medianMs((i) => {
      const batch = vae.sample(count, fromSeed(i));
      batch.dataSync();
      batch.dispose();
    }, repeats);
  const result = { stepMs, kernels, sample1: sampleMs(1), sample64: sampleMs(64) };
  images.dispose();
  optimizer.dispose();
  vae.dispose();
  return result;
}

export async function benchVae({ quick, backends }: BenchOptions): Promise<BenchRow[]> {
  const batchSize = 64;
  const repeats = quick ? 3 : 10;
  const subject = 'VAE conv train step (batch 64)';
  const rows: BenchRow[] = [];
  const steps: [string, number][] = [];
  for (const backend of backends) {
    await initEngine({ backend });
    const { stepMs, kernels, sample1, sample64 } = measure(quick, batchSize);
    steps.push([backend, stepMs]);
    rows.push(
      { name: `${backend}: conv train step (batch 64)`, value: stepMs, unit: 'ms', note: `median of ${repeats}; ${kernels} kernels per step`, kind: 'step', subject, runner: backend, stepMs, kernels },
      { name: `${backend}: train throughput`, value: (batchSize * 1000) / stepMs, unit: 'images/s' },
      { name: `${backend}: sample 1 image`, value: sample1, unit: 'ms' },
      { name: `${backend}: sample 64 images`, value: sample64, unit: 'ms' },
    );
  }
  rows.push(...pytorchStepRows('vae_small.py', (threads) => [String(threads), String(repeats), String(batchSize)], subject, steps, { perStep: batchSize, unit: 'images/s' }));
  return rows;
}
