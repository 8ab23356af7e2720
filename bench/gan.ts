/**
 * GAN speed, on each backend compared: training throughput of the default (`small`, conditional)
 * 28×28 model at batch 64 — one discriminator and one generator update per step, with the
 * spectral-norm power iteration and the weight average — its twin in PyTorch where python3 has
 * torch (bench/peers/gan_small.py, in each setting of peerSettings), and sampling throughput.
 * Inputs are random images of MNIST's shape.
 */
import { gradientsOf } from '../src/core/params.ts';
import { fromSeed } from '../src/core/random.ts';
import * as tf from '../src/core/tf.ts';
import { initEngine } from '../src/core/engine.ts';
import { parseGanConfig } from '../src/models/gan/config.ts';
import { Gan, type GanBatch } from '../src/models/gan/gan.ts';
import { AdamW } from '../src/train/adam.ts';
import { pytorchStepRows } from './peers.ts';
import type { BenchOptions, BenchRow } from './run.ts';
import { medianMs, stepTiming } from './timing.ts';

function measure(quick: boolean, batchSize: number): { stepMs: number; kernels: number; sample1: number; sample256: number } {
  const gan = new Gan(parseGanConfig({ classes: 10 }), fromSeed(1));
  const phases = gan.phases(gan.config.discriminatorLearningRateRatio);
  const optimizers = phases.map((phase) => new AdamW(phase.params, phase.adam));
  const batch: GanBatch = {
    images: tf.tidy(() => tf.randomUniform([batchSize, 28, 28, 1], 0, 1, 'float32', 1)) as tf.Tensor4D,
    labels: tf.tensor1d(Array.from({ length: batchSize }, (_, i) => i % 10), 'int32'),
  };
  const step = (i: number) => {
    gan.beforeStep();
    phases.forEach((phase, p) => {
      const { value, grads } = gradientsOf(phase.params, () => phase.loss(batch, fromSeed(i).fork(p)).total);
      optimizers[p]!.apply(grads, 2e-4);
      value.dataSync();
      tf.dispose([value, grads] as tf.TensorContainer);
    });
    gan.afterStep(Math.max(0, i));
  };
  const repeats = quick ? 3 : 10;
  const { ms: stepMs, kernels } = stepTiming(step, repeats, 2);
  const sampleMs = (count: number) =>
    medianMs((i) => {
      const images = gan.sample(count, fromSeed(i), { labels: Array.from({ length: count }, (_, j) => j % 10) });
      images.dataSync();
      images.dispose();
    }, repeats);
  const result = { stepMs, kernels, sample1: sampleMs(1), sample256: sampleMs(256) };
  tf.dispose([batch.images, batch.labels!]);
  for (const optimizer of optimizers) optimizer.dispose();
  gan.dispose();
  return result;
}

export async function benchGan({ quick, backends }: BenchOptions): Promise<BenchRow[]> {
  const batchSize = 64;
  const repeats = quick ? 3 : 10;
  const subject = 'GAN train step (batch 64, D + G)';
  const rows: BenchRow[] = [];
  const steps: [string, number][] = [];
  for (const backend of backends) {
    await initEngine({ backend });
    const { stepMs, kernels, sample1, sample256 } = measure(quick, batchSize);
    steps.push([backend, stepMs]);
    rows.push(
      { name: `${backend}: train step (batch 64, D + G)`, value: stepMs, unit: 'ms', note: `median of ${repeats}; ${kernels} kernels per step`, kind: 'step', subject, runner: backend, stepMs, kernels },
      { name: `${backend}: train throughput`, value: (batchSize * 1000) / stepMs, unit: 'images/s' },
      { name: `${backend}: sample 1 image`, value: sample1, unit: 'ms' },
      { name: `${backend}: sample 256 images`, value: sample256, unit: 'ms' },
      { name: `${backend}: sampling throughput`, value: (256 * 1000) / sample256, unit: 'images/s', kind: 'generation', subject: 'GAN sampling, 256 images at once', runner: backend },
    );
  }
  rows.push(...pytorchStepRows('gan_small.py', (threads) => [String(threads), String(repeats), String(batchSize)], subject, steps));
  return rows;
}
