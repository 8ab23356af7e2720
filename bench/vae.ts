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
import { medianMs } from './timing.ts';

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
  // Warm-up: kernel setup, weight packing.
  const stepMs = medianMs((i) => step(i + 2), repeats, 2);
  const sampleTimes = (count: number) =>
    medianMs((i) => {
      const batch = vae.sample(count, fromSeed(i));
      batch.dataSync();
      batch.dispose();
    }, repeats);
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
