/**
 * VAE speed: training throughput of the default (`small`) MNIST model at batch 128, and sampling
 * latency. Inputs are random images of MNIST's shape, so the numbers measure compute only.
 */
import { gradientsOf } from '../src/core/params.ts';
import { fromSeed } from '../src/core/random.ts';
import * as tf from '../src/core/tf.ts';
import { parseVaeConfig } from '../src/models/vae/config.ts';
import { Vae } from '../src/models/vae/vae.ts';
import { AdamW } from '../src/train/adam.ts';
import type { BenchRow } from './run.ts';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export async function benchVae({ quick }: { quick: boolean }): Promise<BenchRow[]> {
  const batchSize = 128;
  const vae = new Vae(parseVaeConfig({}), fromSeed(1));
  const optimizer = new AdamW(vae.params);
  const images = tf.tidy(() => tf.randomUniform([batchSize, 28, 28, 1], 0, 1, 'float32', 1)) as tf.Tensor4D;
  const step = (i: number) => {
    const { value, grads } = gradientsOf(vae.params, () => vae.loss(images, fromSeed(i)).total);
    optimizer.apply(grads, 1e-3);
    value.dataSync();
    tf.dispose([value, grads] as tf.TensorContainer);
  };
  const repeats = quick ? 3 : 10;
  for (let i = 0; i < 2; i++) step(i); // warm-up: kernel setup, weight packing
  const stepTimes: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    step(i);
    stepTimes.push(performance.now() - start);
  }
  const sampleTimes = (count: number) => {
    tf.dispose(vae.sample(count, fromSeed(0)));
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const start = performance.now();
      const batch = vae.sample(count, fromSeed(i));
      batch.dataSync();
      batch.dispose();
      times.push(performance.now() - start);
    }
    return median(times);
  };
  const stepMs = median(stepTimes);
  const rows: BenchRow[] = [
    { name: 'train step (batch 128)', value: stepMs, unit: 'ms', note: `median of ${repeats}` },
    { name: 'train throughput', value: (batchSize * 1000) / stepMs, unit: 'images/s' },
    { name: 'sample 1 image', value: sampleTimes(1), unit: 'ms' },
    { name: 'sample 64 images', value: sampleTimes(64), unit: 'ms' },
  ];
  images.dispose();
  optimizer.dispose();
  vae.dispose();
  return rows;
}
