/**
 * `genloom eval` for video models, on held-out moving-MNIST clips (digits from MNIST's test split).
 * Every figure is measured the same way on real test clips, reported beside it.
 *
 *   digits        per-frame digit accuracy: the share of frames in which the shipped MNIST
 *                 classifier reads every asked digit. Each frame is thresholded at 0.3, its
 *                 8-connected components of at least 20 px are found, and a 28 × 28 crop centred on
 *                 each of the digitsPerClip largest is classified; the frame counts when the labels
 *                 read are the asked digits (as a multiset). Where two digits touch they are one
 *                 component and the frame fails, for real clips too: the real figure is the ceiling.
 *                 Models that know where they put each digit (the layered design) also report the
 *                 accuracy of crops at those positions (real clips: the renderer's positions).
 *   motion        mean |x_t − x_{t−1}| per pixel of generated and real clips and their ratio
 *                 (1 = moving as much as real; ≪ 1 frozen, ≫ 1 flicker), and the share of frames
 *                 whose ink stays within 25% of the clip's first frame (digits that fade or double fail)
 *   fd_clip_features   a Fréchet distance between real and generated clips over clip features
 *                 made with the MNIST classifier: the mean, over frames, of the classifier features of
 *                 the frame's digit crops, and the mean change of those features from frame to frame
 *                 (2 × 128 numbers). Not FVD: that needs an I3D network genloom does not have.
 *   reconstruction, prediction   PSNR of clips redrawn by the model, and of frames 5.. rolled out
 *                 from the first 4 (how each design does it: clip-vae.ts, layered.ts)
 */
import * as tf from '../../core/tf.ts';
import { fromSeed, type Random } from '../../core/random.ts';
import { DIGIT_SIDE, movingMnist, type RenderedClip } from '../../data/moving-mnist.ts';
import { featureNetDir, loadFeatureNet } from '../../metrics/generator-eval.ts';
import { fitGaussian, frechetDistance } from '../../metrics/image-metrics.ts';
import type { EvaluateOptions, ImageClassifier } from '../family.ts';
import { LazyProgress } from '../../train/progress.ts';

const context = 4;
const inkThreshold = 0.3;
const minComponentPixels = 20;
const psnr = (mse: number) => 10 * Math.log10(1 / Math.max(mse, 1e-10));
const round = (value: number) => Math.round(value * 10_000) / 10_000;

/** What evaluation needs of a video design. */
export interface VideoUnderTest {
  frames: number;
  frameSize: number;
  digitsPerClip: number;
  /** The clips redrawn by the model: [clips, T, H, W] pixels. */
  reconstruct(clips: RenderedClip[]): Float32Array;
  /** The first `context` frames as given, the rest the model's best guess. */
  predict(clips: RenderedClip[], context: number): Float32Array;
  /** Clips of `digits` (clips × digitsPerClip, row-major); `tracks` where the design places digits itself. */
  generate(digits: number[], random: Random): { pixels: Float32Array; tracks?: Float32Array };
}

export async function evaluateVideo(model: VideoUnderTest, options: EvaluateOptions): Promise<Record<string, unknown>> {
  const { frames, frameSize, digitsPerClip } = model;
  const test = movingMnist({ split: 'test', frames, size: frameSize, digitsPerClip });
  const clips = Math.min(options.limit ?? 256, test.count);
  const samples = options.samples ?? 256;
  const batchSize = 16;
  const net = loadFeatureNet(featureNetDir('mnist'));
  const progress = new LazyProgress('eval', options.quiet);
  const frameSizeOf = frameSize * frameSize;
  try {
    const real = new ClipStats(net.classifier, frames, frameSize, digitsPerClip);
    const generated = new ClipStats(net.classifier, frames, frameSize, digitsPerClip);
    const reconstructionByFrame = new Float64Array(frames);
    const seen = Math.min(context, frames - 1);
    const predictionByFrame = new Float64Array(frames - seen);
    for (let start = 0; start < clips; start += batchSize) {
      const rendered = Array.from({ length: Math.min(batchSize, clips - start) }, (_, i) => test.clip(start + i));
      const truth = concatFloats(rendered.map((item) => item.clip.pixels));
      const errorsByFrame = (made: Float32Array, into: Float64Array, from: number) => {
        for (let c = 0; c < rendered.length; c++) {
          for (let t = from; t < frames; t++) {
            let sum = 0;
            const offset = (c * frames + t) * frameSizeOf;
            for (let p = 0; p < frameSizeOf; p++) sum += (made[offset + p]! - truth[offset + p]!) ** 2;
            into[t - from]! += sum / frameSizeOf;
          }
        }
      };
      errorsByFrame(model.reconstruct(rendered), reconstructionByFrame, 0);
      errorsByFrame(model.predict(rendered, seen), predictionByFrame, seen);
      real.add(truth, rendered.flatMap((item) => [...item.digits]), concatFloats(rendered.map((item) => item.tracks)));
      progress.update(start + rendered.length, clips + samples);
    }
    const random = fromSeed(options.seed).fork('eval-samples');
    for (let start = 0; start < samples; start += batchSize) {
      const count = Math.min(batchSize, samples - start);
      const digits = Array.from({ length: count }, (_, i) => test.clip((start + i) % test.count).digits).flatMap((row) => [...row]);
      const made = model.generate(digits, random.fork(start));
      generated.add(made.pixels, digits, made.tracks);
      progress.update(clips + start + count, clips + samples);
    }
    progress.stop();
    const meanOf = (values: Float64Array) => values.reduce((a, b) => a + b, 0) / values.length;
    const reconstructionMse = reconstructionByFrame.map((sum) => sum / clips);
    const predictionMse = predictionByFrame.map((sum) => sum / clips);
    const realFit = fitGaussian(real.features());
    const generatedFit = fitGaussian(generated.features());
    return {
      family: 'video',
      dataset: 'moving-mnist',
      split: 'test',
      clips,
      samples,
      frames,
      featureNet: 'models/classifier-mnist',
      digits: {
        perFrameAccuracy: round(generated.framesRead / generated.frames),
        perFrameAccuracyReal: round(real.framesRead / real.frames),
        ...(generated.framesReadAtPositions !== undefined
          ? { atKnownPositions: round(generated.framesReadAtPositions / generated.frames), atKnownPositionsReal: round(real.framesReadAtPositions! / real.frames) }
          : {}),
      },
      motion: {
        ratio: round(generated.motion() / real.motion()),
        meanFrameChangeGenerated: round(generated.motion()),
        meanFrameChangeReal: round(real.motion()),
        steadyInkFraction: round(generated.steadyFrames / generated.frames),
        steadyInkFractionReal: round(real.steadyFrames / real.frames),
      },
      fd_clip_features: round(frechetDistance(realFit, generatedFit)),
      reconstruction: { mse: round(meanOf(reconstructionMse)), psnr: round(psnr(meanOf(reconstructionMse))), psnrByFrame: Array.from(reconstructionMse, (mse) => round(psnr(mse))) },
      prediction: { contextFrames: seen, mse: round(meanOf(predictionMse)), psnr: round(psnr(meanOf(predictionMse))), psnrByFrameAhead: Array.from(predictionMse, (mse) => round(psnr(mse))) },
      method:
        'digits: frames in which the MNIST classifier reads every asked digit in 28×28 crops centred on the largest connected components (threshold 0.3); ' +
        'motion: mean |x_t − x_{t−1}| per pixel; fd_clip_features: Fréchet distance of per-clip classifier features (mean crop features and their mean frame-to-frame change), not FVD; ' +
        'PSNR = 10·log10(1/MSE) on pixels in [0, 1]; samples are conditioned on the test clips\' digits',
    };
  } finally {
    net.dispose();
  }
}

/** The arrays end to end, as one. */
export function concatFloats(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Running figures over a set of clips (real or generated). */
class ClipStats {
  frames = 0;
  framesRead = 0;
  framesReadAtPositions: number | undefined;
  steadyFrames = 0;
  private change = 0;
  private clipFeatures: Float32Array[] = [];

  constructor(private readonly classifier: ImageClassifier, private readonly clipLength: number, private readonly size: number, private readonly digitsPerClip: number) {}

  /** Clips [n, T, H, W], their asked digits [n · D] and, where known, tracks [n · D, T, 2]. */
  add(pixels: Float32Array, digits: number[], tracks?: Float32Array): void {
    const { clipLength: T, size, digitsPerClip: D } = this;
    const frameSize = size * size;
    const count = pixels.length / (T * frameSize);
    // Crops: by components for every frame, and at the known corners where given.
    const componentCrops: Float32Array[] = [];
    const cropOwners: number[] = []; // frame index (clip · T + t) of each crop
    for (let f = 0; f < count * T; f++) {
      const frame = pixels.subarray(f * frameSize, (f + 1) * frameSize);
      for (const centre of largestComponents(frame, size, D)) {
        componentCrops.push(crop(frame, size, Math.round(centre.x - DIGIT_SIDE / 2), Math.round(centre.y - DIGIT_SIDE / 2)));
        cropOwners.push(f);
      }
    }
    const { labels, features } = this.classify(componentCrops);
    const featureDim = this.classifier.featureDim;
    const frameFeatures = new Float32Array(count * T * featureDim);
    const cropsPerFrame = new Int32Array(count * T);
    const readLabels: number[][] = Array.from({ length: count * T }, () => []);
    cropOwners.forEach((f, i) => {
      readLabels[f]!.push(labels[i]!);
      cropsPerFrame[f]!++;
      for (let j = 0; j < featureDim; j++) frameFeatures[f * featureDim + j]! += features[i * featureDim + j]!;
    });
    for (let f = 0; f < count * T; f++) {
      const clip = Math.floor(f / T);
      const asked = digits.slice(clip * D, (clip + 1) * D);
      if (sameMultiset(readLabels[f]!, asked)) this.framesRead++;
      if (cropsPerFrame[f]! > 0) for (let j = 0; j < featureDim; j++) frameFeatures[f * featureDim + j]! /= cropsPerFrame[f]!;
    }
    if (tracks) {
      const positionCrops: Float32Array[] = [];
      for (let c = 0; c < count; c++) {
        for (let t = 0; t < T; t++) {
          const frame = pixels.subarray((c * T + t) * frameSize, (c * T + t + 1) * frameSize);
          for (let d = 0; d < D; d++) {
            const at = ((c * D + d) * T + t) * 2;
            positionCrops.push(crop(frame, size, Math.round(tracks[at]!), Math.round(tracks[at + 1]!)));
          }
        }
      }
      const read = this.classify(positionCrops).labels;
      let framesRead = 0;
      for (let c = 0; c < count; c++) {
        for (let t = 0; t < T; t++) {
          let all = true;
          for (let d = 0; d < D; d++) if (read[(c * T + t) * D + d] !== digits[c * D + d]) all = false;
          if (all) framesRead++;
        }
      }
      this.framesReadAtPositions = (this.framesReadAtPositions ?? 0) + framesRead;
    }
    for (let c = 0; c < count; c++) {
      const clipFeature = new Float32Array(2 * featureDim);
      let firstInk = 0;
      for (let t = 0; t < T; t++) {
        const frame = pixels.subarray((c * T + t) * frameSize, (c * T + t + 1) * frameSize);
        let ink = 0;
        for (let p = 0; p < frameSize; p++) ink += frame[p]!;
        if (t === 0) firstInk = ink;
        if (Math.abs(ink - firstInk) <= 0.25 * firstInk) this.steadyFrames++;
        const f = c * T + t;
        for (let j = 0; j < featureDim; j++) clipFeature[j]! += frameFeatures[f * featureDim + j]! / T;
        if (t > 0) {
          let change = 0;
          const earlier = pixels.subarray((f - 1) * frameSize, f * frameSize);
          for (let p = 0; p < frameSize; p++) change += Math.abs(frame[p]! - earlier[p]!);
          this.change += change / frameSize / (T - 1);
          for (let j = 0; j < featureDim; j++) clipFeature[featureDim + j]! += Math.abs(frameFeatures[f * featureDim + j]! - frameFeatures[(f - 1) * featureDim + j]!) / (T - 1);
        }
      }
      this.clipFeatures.push(clipFeature);
    }
    this.frames += count * T;
  }

  /** Mean per-pixel |x_t − x_{t−1}| over the clips added. */
  motion(): number {
    return this.change / this.clipFeatures.length;
  }

  features(): { count: number; dim: number; data: Float32Array } {
    return { count: this.clipFeatures.length, dim: 2 * this.classifier.featureDim, data: concatFloats(this.clipFeatures) };
  }

  private classify(crops: Float32Array[]): { labels: Int32Array; features: Float32Array } {
    if (crops.length === 0) return { labels: new Int32Array(0), features: new Float32Array(0) };
    return tf.tidy(() => {
      const images = tf.tensor4d(concatFloats(crops), [crops.length, DIGIT_SIDE, DIGIT_SIDE, 1]);
      const features = this.classifier.features(images);
      return { labels: tf.argMax(this.classifier.logitsFromFeatures(features), 1).dataSync() as Int32Array, features: features.dataSync() as Float32Array };
    });
  }
}

/** The 28 × 28 window of `frame` with its top-left corner at (left, top), moved inside the frame. */
function crop(frame: Float32Array, size: number, left: number, top: number): Float32Array {
  const x0 = Math.min(size - DIGIT_SIDE, Math.max(0, left));
  const y0 = Math.min(size - DIGIT_SIDE, Math.max(0, top));
  const out = new Float32Array(DIGIT_SIDE * DIGIT_SIDE);
  for (let y = 0; y < DIGIT_SIDE; y++) out.set(frame.subarray((y0 + y) * size + x0, (y0 + y) * size + x0 + DIGIT_SIDE), y * DIGIT_SIDE);
  return out;
}

/** Bounding-box centres of the `most` largest 8-connected components of pixels above the ink threshold. */
export function largestComponents(frame: Float32Array, size: number, most: number): { x: number; y: number; pixels: number }[] {
  const seen = new Uint8Array(size * size);
  const found: { x: number; y: number; pixels: number }[] = [];
  const stack: number[] = [];
  for (let start = 0; start < size * size; start++) {
    if (seen[start] || frame[start]! <= inkThreshold) continue;
    seen[start] = 1;
    stack.push(start);
    let pixels = 0;
    let minX = size, maxX = 0, minY = size, maxY = 0;
    while (stack.length > 0) {
      const p = stack.pop()!;
      const px = p % size;
      const py = (p - px) / size;
      pixels++;
      minX = Math.min(minX, px); maxX = Math.max(maxX, px);
      minY = Math.min(minY, py); maxY = Math.max(maxY, py);
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = px + dx;
          const ny = py + dy;
          if (nx < 0 || ny < 0 || nx >= size || ny >= size) continue;
          const q = ny * size + nx;
          if (!seen[q] && frame[q]! > inkThreshold) {
            seen[q] = 1;
            stack.push(q);
          }
        }
      }
    }
    if (pixels >= minComponentPixels) found.push({ x: (minX + maxX + 1) / 2, y: (minY + maxY + 1) / 2, pixels });
  }
  return found.sort((a, b) => b.pixels - a.pixels).slice(0, most);
}

function sameMultiset(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  const left = [...a].sort();
  const right = [...b].sort();
  return left.every((value, i) => value === right[i]);
}
