/**
 * Convolution speed, on each backend compared: training throughput of the default (`small`) MNIST
 * VAE at batch 64 (two strided convolutions, two transposed ones, four dense layers), its twin in
 * PyTorch where python3 has torch (bench/peers/vae_small.py, in each setting of peerSettings), and
 * sampling latency; then the same for the colour emoji VAE (the `base` preset on 32×32 RGB with the
 * σ-VAE Gaussian likelihood, models/vae-emoji's shape). Inputs are random images of each shape, so
 * the numbers measure compute only.
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

const shapes = {
  mnist: { config: parseVaeConfig({}), image: [28, 28, 1] as const },
  colour: { config: parseVaeConfig({ imageHeight: 32, imageWidth: 32, channels: 3, likelihood: 'gaussian' }, 'base'), image: [32, 32, 3] as const },
};

function measure(quick: boolean, batchSize: number, shape: keyof typeof shapes): { stepMs: number; kernels: number; sample1: number; sample64: number } {
  const vae = new Vae(shapes[shape].config, fromSeed(1));
  const optimizer = new AdamW(vae.params);
  const images = tf.tidy(() => tf.randomUniform([batchSize, ...shapes[shape].image], 0, 1, 'float32', 1)) as tf.Tensor4D;
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
  const rows: BenchRow[] = [];
  for (const [shape, subject, prefix] of [['mnist', 'VAE conv train step (batch 64)', ''], ['colour', 'colour VAE train step (base, 32×32 RGB, batch 64)', 'colour ']] as const) {
    const steps: [string, number][] = [];
    for (const backend of backends) {
      await initEngine({ backend });
      const { stepMs, kernels, sample1, sample64 } = measure(quick, batchSize, shape);
      steps.push([backend, stepMs]);
      rows.push(
        { name: `${backend}: ${prefix}conv train step (batch 64)`, value: stepMs, unit: 'ms', note: `median of ${repeats}; ${kernels} kernels per step`, kind: 'step', subject, runner: backend, stepMs, kernels },
        { name: `${backend}: ${prefix}train throughput`, value: (batchSize * 1000) / stepMs, unit: 'images/s' },
        { name: `${backend}: ${prefix}sample 1 image`, value: sample1, unit: 'ms' },
        { name: `${backend}: ${prefix}sample 64 images`, value: sample64, unit: 'ms' },
      );
    }
    rows.push(...pytorchStepRows('vae_small.py', (threads) => [String(threads), String(repeats), String(batchSize), shape], subject, steps, { perStep: batchSize, unit: 'images/s' }));
  }
  return rows;
}
