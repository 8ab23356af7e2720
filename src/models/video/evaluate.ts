/**
 * `genloom eval` for video models, on held-out moving-MNIST clips (digits from MNIST's test split):
 *
 *   reconstruction   per-frame MSE and PSNR of clips through the frame VAE (posterior means)
 *   prediction       the first 4 frames given, the rest rolled out by the prior at its means:
 *                    MSE and PSNR per frame ahead (how far the model keeps the motion going)
 *   temporal         mean |x_t − x_{t−1}| of generated clips and of real ones, and their ratio
 *                    (1 = motion as smooth as real; ≫ 1 flicker, ≪ 1 frozen), plus the share of
 *                    generated frames whose ink (sum of pixels) is within 25% of their clip's
 *                    first frame: digits that fade, vanish or double fail it
 */
import * as tf from '../../core/tf.ts';
import { fromSeed } from '../../core/random.ts';
import { gatherClips, movingMnist } from '../../data/moving-mnist.ts';
import type { EvaluateOptions } from '../family.ts';
import { LazyProgress } from '../../train/progress.ts';
import type { ClipVae } from './clip-vae.ts';

const context = 4;
const psnr = (mse: number) => 10 * Math.log10(1 / Math.max(mse, 1e-10));
const round = (value: number) => Math.round(value * 10_000) / 10_000;

export async function evaluateVideo(network: ClipVae, options: EvaluateOptions): Promise<Record<string, unknown>> {
  const { frames } = network.config;
  const test = movingMnist({ split: 'test', frames });
  const clips = Math.min(options.limit ?? 200, test.count);
  const samples = options.samples ?? 64;
  const batchSize = 16;
  const progress = new LazyProgress('eval', options.quiet);
  const reconstructionByFrame = new Float64Array(frames);
  const predictionByFrame = new Float64Array(frames - Math.min(context, frames - 1));
  let realMotion = 0;
  for (let start = 0; start < clips; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, clips - start) }, (_, i) => start + i);
    const { frames: real, digits } = gatherClips(test, indices);
    const condition = network.condition(digits);
    const batch = { frames: real, condition };
    const seen = Math.min(context, frames - 1);
    const [reconstructionErrors, predictionErrors, motion] = tf.tidy(() => {
      const perFrame = (made: tf.Tensor5D) => made.sub(real).square().mean([2, 3, 4]).sum(0) as tf.Tensor1D;
      return [perFrame(network.reconstruct(batch)), perFrame(network.predict(batch, seen)), meanMotion(real).mul(indices.length)];
    });
    reconstructionErrors.dataSync().forEach((value, t) => (reconstructionByFrame[t]! += value));
    predictionErrors.dataSync().slice(seen).forEach((value, t) => (predictionByFrame[t]! += value));
    realMotion += motion.dataSync()[0]!;
    tf.dispose([real, condition, reconstructionErrors, predictionErrors, motion]);
    progress.update(start + indices.length, clips + samples);
  }
  let generatedMotion = 0;
  let steadyFrames = 0;
  const random = fromSeed(options.seed).fork('eval-samples');
  for (let start = 0; start < samples; start += batchSize) {
    const count = Math.min(batchSize, samples - start);
    const digits = Array.from({ length: count }, (_, i) => test.clip((start + i) % test.count).digits).flatMap((row) => [...row]);
    const condition = network.condition(digits);
    const made = network.generate(condition, frames, random.fork(start));
    const [motion, steady] = tf.tidy(() => {
      const ink = made.sum([2, 3, 4]) as tf.Tensor2D;
      const first = ink.slice([0, 0], [count, 1]);
      const within = ink.sub(first).abs().lessEqual(first.mul(0.25)).cast('float32').sum();
      return [meanMotion(made).mul(count), within];
    });
    generatedMotion += motion.dataSync()[0]!;
    steadyFrames += steady.dataSync()[0]!;
    tf.dispose([condition, made, motion, steady]);
    progress.update(clips + start + count, clips + samples);
  }
  progress.stop();
  const reconstructionMse = reconstructionByFrame.map((sum) => sum / clips);
  const predictionMse = predictionByFrame.map((sum) => sum / clips);
  const meanOf = (values: Float64Array) => values.reduce((a, b) => a + b, 0) / values.length;
  const realSmoothness = realMotion / clips;
  const generatedSmoothness = generatedMotion / samples;
  return {
    family: 'video',
    dataset: 'moving-mnist',
    split: 'test',
    clips,
    frames,
    reconstruction: { mse: round(meanOf(reconstructionMse)), psnr: round(psnr(meanOf(reconstructionMse))), psnrByFrame: Array.from(reconstructionMse, (mse) => round(psnr(mse))) },
    prediction: { contextFrames: Math.min(context, frames - 1), mse: round(meanOf(predictionMse)), psnr: round(psnr(meanOf(predictionMse))), psnrByFrameAhead: Array.from(predictionMse, (mse) => round(psnr(mse))) },
    temporal: {
      samples,
      meanFrameChangeGenerated: round(generatedSmoothness),
      meanFrameChangeReal: round(realSmoothness),
      frameChangeRatio: round(generatedSmoothness / realSmoothness),
      steadyInkFraction: round(steadyFrames / (samples * frames)),
    },
    method: 'PSNR = 10·log10(1/MSE) on pixels in [0, 1], averaged over clips per frame; temporal figures are mean |x_t − x_{t−1}| per pixel; samples are conditioned on the test clips\' digits',
  };
}

/** Mean per-pixel |x_t − x_{t−1}| of clips [B, T, H, W, 1], averaged over the batch: a scalar. */
function meanMotion(clips: tf.Tensor5D): tf.Scalar {
  const [batch, frames, height, width] = clips.shape;
  const later = clips.slice([0, 1, 0, 0, 0], [batch, frames - 1, height, width, 1]);
  const earlier = clips.slice([0, 0, 0, 0, 0], [batch, frames - 1, height, width, 1]);
  return later.sub(earlier).abs().mean() as tf.Scalar;
}
