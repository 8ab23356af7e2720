/**
 * PixelCNN speed: a training step of the default (`small`) Gated PixelCNN on 64 binary 28×28 images,
 * and drawing images pixel by pixel (784 network passes over a band of rows), 16 at once.
 */
import { fromSeed } from '../src/core/random.ts';
import * as tf from '../src/core/tf.ts';
import { parsePixelCnnConfig } from '../src/models/pixelcnn/config.ts';
import { PixelCnn, type PixelCnnBatch } from '../src/models/pixelcnn/pixelcnn.ts';
import { samplePixelCnn } from '../src/models/pixelcnn/sampler.ts';
import { AdamW } from '../src/train/adam.ts';
import type { BenchRow } from './run.ts';
import { adamStep, medianMs } from './timing.ts';

export async function benchPixelCnn({ quick }: { quick: boolean }): Promise<BenchRow[]> {
  const batchSize = 64;
  const model = new PixelCnn(parsePixelCnnConfig({}), fromSeed(1));
  const optimizer = new AdamW(model.params);
  const random = fromSeed(2);
  const batch: PixelCnnBatch = { images: tf.tensor4d(Float32Array.from(random.uniformArray(batchSize * 784), (u) => (u < 0.15 ? 1 : 0)), [batchSize, 28, 28, 1]) };
  const repeats = quick ? 2 : 5;
  const stepMs = medianMs(() => adamStep(model.params, optimizer, () => model.loss(batch).total), repeats, 1);
  const count = quick ? 4 : 16;
  const sampleMs = medianMs((i) => samplePixelCnn(model, count, fromSeed(i)).dispose(), 1, 0);
  tf.dispose(batch.images);
  optimizer.dispose();
  model.dispose();
  return [
    { name: 'train step (batch 64)', value: stepMs, unit: 'ms', note: `median of ${repeats}; p = 32, 1 + 6 gated layers` },
    { name: 'train throughput', value: (batchSize * 1000) / stepMs, unit: 'images/s' },
    { name: 'sample 28×28', value: sampleMs / 1000 / count, unit: 's/image', note: `${count} at once, one run` },
  ];
}
