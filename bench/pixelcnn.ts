/**
 * PixelCNN speed, on each backend compared: a training step of the default (`small`) Gated PixelCNN
 * on 64 binary 28×28 images, its twin in PyTorch where python3 has torch
 * (bench/peers/pixelcnn_small.py, in each setting of peerSettings), and drawing images pixel by pixel
 * (784 network passes over a band of rows), 16 at once (4 with --quick).
 */
import { fromSeed } from '../src/core/random.ts';
import * as tf from '../src/core/tf.ts';
import { initEngine } from '../src/core/engine.ts';
import { parsePixelCnnConfig } from '../src/models/pixelcnn/config.ts';
import { PixelCnn, type PixelCnnBatch } from '../src/models/pixelcnn/pixelcnn.ts';
import { samplePixelCnn } from '../src/models/pixelcnn/sampler.ts';
import { AdamW } from '../src/train/adam.ts';
import { pytorchStepRows } from './peers.ts';
import type { BenchOptions, BenchRow } from './run.ts';
import { adamStep, medianMs, stepTiming } from './timing.ts';

function measure(quick: boolean, batchSize: number, count: number): { stepMs: number; kernels: number; sampleMs: number } {
  const model = new PixelCnn(parsePixelCnnConfig({}), fromSeed(1));
  const optimizer = new AdamW(model.params);
  const random = fromSeed(2);
  const batch: PixelCnnBatch = { images: tf.tensor4d(Float32Array.from(random.uniformArray(batchSize * 784), (u) => (u < 0.15 ? 1 : 0)), [batchSize, 28, 28, 1]) };
  const { ms: stepMs, kernels } = stepTiming(() => adamStep(model.params, optimizer, () => model.loss(batch).total), quick ? 2 : 5, 1);
  const sampleMs = medianMs((i) => samplePixelCnn(model, count, fromSeed(i)).dispose(), 1, 0);
  tf.dispose(batch.images);
  optimizer.dispose();
  model.dispose();
  return { stepMs, kernels, sampleMs };
}

export async function benchPixelCnn({ quick, backends }: BenchOptions): Promise<BenchRow[]> {
  const batchSize = 64;
  const repeats = quick ? 2 : 5;
  const count = quick ? 4 : 16;
  const subject = 'PixelCNN train step (batch 64)';
  const rows: BenchRow[] = [];
  const steps: [string, number][] = [];
  for (const backend of backends) {
    await initEngine({ backend });
    const { stepMs, kernels, sampleMs } = measure(quick, batchSize, count);
    steps.push([backend, stepMs]);
    rows.push(
      { name: `${backend}: train step (batch 64)`, value: stepMs, unit: 'ms', note: `median of ${repeats}; p = 32, 1 + 6 gated layers; ${kernels} kernels per step`, kind: 'step', subject, runner: backend, stepMs, kernels },
      { name: `${backend}: train throughput`, value: (batchSize * 1000) / stepMs, unit: 'images/s' },
      { name: `${backend}: sample 28×28`, value: sampleMs / 1000 / count, unit: 's/image', note: `${count} at once, one run`, kind: 'generation', subject: `PixelCNN sampling, ${count} images at once`, runner: backend },
    );
  }
  rows.push(...pytorchStepRows('pixelcnn_small.py', (threads) => [String(threads), String(repeats), String(batchSize)], subject, steps));
  return rows;
}
