/**
 * Diffusion speed: training throughput of the default (`small`, conditional) 28×28 U-Net at batch 64,
 * and sampling time per image for each sampler at its default number of steps (DDPM 1000, DDIM 50,
 * DPM-Solver++ 20), drawing 16 images at once; DDIM also with guidance 3, which runs the network
 * twice per step. Inputs are random images of MNIST's shape: speed does not depend on the weights.
 */
import { fromSeed } from '../src/core/random.ts';
import * as tf from '../src/core/tf.ts';
import { parseDiffusionConfig } from '../src/models/diffusion/config.ts';
import { Diffusion, type DiffusionBatch } from '../src/models/diffusion/diffusion.ts';
import { AdamW } from '../src/train/adam.ts';
import type { BenchRow } from './run.ts';
import { adamStep, medianMs } from './timing.ts';

export async function benchDiffusion({ quick }: { quick: boolean }): Promise<BenchRow[]> {
  const batchSize = 64;
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
  const stepMs = medianMs(step, repeats, 1);
  const count = 16;
  const perImageSeconds = (sampler: string, guidance: number, times: number) =>
    medianMs((i) => {
      const images = model.sample(count, fromSeed(i), { sampler, guidance, labels: Array.from({ length: count }, (_, j) => j % 10) });
      images.dataSync();
      images.dispose();
    }, times, 0) / 1000 / count;
  const rows: BenchRow[] = [
    { name: 'train step (batch 64)', value: stepMs, unit: 'ms', note: `median of ${repeats}` },
    { name: 'train throughput', value: (batchSize * 1000) / stepMs, unit: 'images/s' },
    { name: 'sample: dpm-solver, 20 steps', value: perImageSeconds('dpm-solver', 1, repeats), unit: 's/image', note: `${count} at once` },
    { name: 'sample: ddim, 50 steps', value: perImageSeconds('ddim', 1, repeats), unit: 's/image', note: `${count} at once` },
    { name: 'sample: ddim, 50 steps, guidance 3', value: perImageSeconds('ddim', 3, repeats), unit: 's/image', note: `${count} at once; two network passes per step` },
    { name: 'sample: ddpm, 1000 steps', value: perImageSeconds('ddpm', 1, 1), unit: 's/image', note: `${count} at once, one run` },
  ];
  tf.dispose([batch.images, batch.labels!]);
  optimizer.dispose();
  model.dispose();
  return rows;
}
