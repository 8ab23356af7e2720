/**
 * Diffusion speed, on each backend compared: training throughput of the default (`small`,
 * conditional) 28×28 U-Net at batch 64, its twin in PyTorch where python3 has torch
 * (bench/peers/unet_small.py, in each setting of peerSettings), and sampling time per image for each
 * sampler at its default number of steps (DDPM 1000, DDIM 50, DPM-Solver++ 20), drawing 16 images at
 * once; DDIM also with guidance 3, which runs the network twice per step. Inputs are random images of
 * MNIST's shape: speed does not depend on the weights.
 */
import { fromSeed } from '../src/core/random.ts';
import * as tf from '../src/core/tf.ts';
import { initEngine } from '../src/core/engine.ts';
import { parseDiffusionConfig } from '../src/models/diffusion/config.ts';
import { Diffusion, type DiffusionBatch } from '../src/models/diffusion/diffusion.ts';
import { AdamW } from '../src/train/adam.ts';
import { pytorchStepRows } from './peers.ts';
import type { BenchOptions, BenchRow } from './run.ts';
import { adamStep, medianMs, stepTiming } from './timing.ts';

const count = 16;

function measure(quick: boolean, batchSize: number, backend: string): { stepMs: number; kernels: number; samplers: BenchRow[] } {
  const model = new Diffusion(parseDiffusionConfig({ classes: 10 }), fromSeed(1));
  const optimizer = new AdamW(model.unet.params);
  const batch: DiffusionBatch = {
    images: tf.tidy(() => tf.randomUniform([batchSize, 28, 28, 1], 0, 1, 'float32', 1)) as tf.Tensor4D,
    labels: tf.tensor1d(Array.from({ length: batchSize }, (_, i) => i % 10), 'int32'),
  };
  const step = (i: number) => {
    adamStep(model.unet.params, optimizer, () => model.loss(batch, fromSeed(i)).total);
    model.afterStep(Math.max(0, i));
  };
  const repeats = quick ? 2 : 5;
  const { ms: stepMs, kernels } = stepTiming(step, repeats, 1);
  const perImageSeconds = (sampler: string, guidance: number, times: number) =>
    medianMs((i) => {
      const images = model.sample(count, fromSeed(i), { sampler, guidance, labels: Array.from({ length: count }, (_, j) => j % 10) });
      images.dataSync();
      images.dispose();
    }, times, 0) / 1000 / count;
  const generation = (what: string) => ({ kind: 'generation' as const, subject: `diffusion ${what}, ${count} images at once`, runner: backend });
  const samplers: BenchRow[] = [
    { name: `${backend}: sample: dpm-solver, 20 steps`, value: perImageSeconds('dpm-solver', 1, repeats), unit: 's/image', note: `${count} at once`, ...generation('DPM-Solver++ 20 steps') },
    { name: `${backend}: sample: ddim, 50 steps`, value: perImageSeconds('ddim', 1, repeats), unit: 's/image', note: `${count} at once`, ...generation('DDIM 50 steps') },
    { name: `${backend}: sample: ddim, 50 steps, guidance 3`, value: perImageSeconds('ddim', 3, repeats), unit: 's/image', note: `${count} at once; two network passes per step` },
    { name: `${backend}: sample: ddpm, 1000 steps`, value: perImageSeconds('ddpm', 1, 1), unit: 's/image', note: `${count} at once, one run`, ...generation('DDPM 1000 steps') },
  ];
  tf.dispose([batch.images, batch.labels!]);
  optimizer.dispose();
  model.dispose();
  return { stepMs, kernels, samplers };
}

export async function benchDiffusion({ quick, backends }: BenchOptions): Promise<BenchRow[]> {
  const batchSize = 64;
  const repeats = quick ? 2 : 5;
  const subject = 'diffusion U-Net train step (batch 64)';
  const rows: BenchRow[] = [];
  const steps: [string, number][] = [];
  for (const backend of backends) {
    await initEngine({ backend });
    const { stepMs, kernels, samplers } = measure(quick, batchSize, backend);
    steps.push([backend, stepMs]);
    rows.push(
      { name: `${backend}: train step (batch 64)`, value: stepMs, unit: 'ms', note: `median of ${repeats}; ${kernels} kernels per step`, kind: 'step', subject, runner: backend, stepMs, kernels },
      { name: `${backend}: train throughput`, value: (batchSize * 1000) / stepMs, unit: 'images/s' },
      ...samplers,
    );
  }
  rows.push(...pytorchStepRows('unet_small.py', (threads) => [String(threads), String(repeats), String(batchSize)], subject, steps));
  return rows;
}
