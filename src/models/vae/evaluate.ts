/**
 * `genloom eval` for the VAE: test negative ELBO, an importance-weighted bound on the negative
 * log-likelihood (IWAE, Burda et al. 2016), and reconstruction error, all in nats per image.
 *
 *   log p(x) ≥ log (1/k) Σᵢ p(x|zᵢ) p(zᵢ) / q(zᵢ|x),   zᵢ ~ q(z|x)
 *
 * The bound tightens as k grows; k = 1 is the ELBO. For the Bernoulli likelihood the test images are
 * binarized once with a fixed seed (a "fixed stochastic binarization"), so every evaluation of every
 * model sees the same binary test set.
 */
import * as tf from '../../core/tf.ts';
import { fromSeed } from '../../core/random.ts';
import { gatherImages, type ImageDataset } from '../../data/image-dataset.ts';
import { fixedBinarization } from '../../data/binarize.ts';
import { createProgress } from '../../train/progress.ts';
import type { Vae } from './vae.ts';

const halfLogTwoPi = 0.5 * Math.log(2 * Math.PI);

export interface VaeEvaluation {
  negativeElbo: number;
  reconstruction: number;
  kl: number;
  reconstructionMse: number;
  elboImages: number;
  iwaeNll: number;
  iwaeImages: number;
  importanceSamples: number;
}

/** The evaluation targets: binarized with the fixed seed for Bernoulli models. */
export function evaluationTargets(vae: Vae, dataset: ImageDataset): ImageDataset {
  return vae.config.likelihood === 'bernoulli' ? fixedBinarization(dataset) : dataset;
}

function logMeanExp(values: Float32Array | number[]): number {
  let max = -Infinity;
  for (const value of values) max = Math.max(max, value);
  let sum = 0;
  for (const value of values) sum += Math.exp(value - max);
  return max + Math.log(sum / values.length);
}

/**
 * Log importance weights log p(x|z) + log p(z) − log q(z|x) for `samples` draws per image,
 * returned as [images × samples].
 */
function logImportanceWeights(vae: Vae, images: tf.Tensor4D, samples: number, seed: number | string, offset: number): Float32Array {
  return tf.tidy(() => {
    const [count, height, width, channels] = images.shape;
    const latentDim = vae.latentDim;
    const { mean, logVariance } = vae.encode(images);
    const random = fromSeed(seed).fork('iwae', offset);
    const epsilon = tf.tensor3d(random.normalArray(count * samples * latentDim), [count, samples, latentDim]);
    const z = mean.expandDims(1).add(tf.exp(logVariance.mul(0.5)).expandDims(1).mul(epsilon));
    const flatZ = z.reshape([count * samples, latentDim]) as tf.Tensor2D;
    const tiled = images.expandDims(1).tile([1, samples, 1, 1, 1]).reshape([count * samples, height, width, channels]) as tf.Tensor4D;
    const logLikelihood = vae.logLikelihood(tiled, vae.decodeLogits(flatZ)).reshape([count, samples]);
    const logPrior = flatZ.square().sum(1).mul(-0.5).sub(latentDim * halfLogTwoPi).reshape([count, samples]);
    // log q(z|x) with z = μ + σε: −½ Σ (ε² + log σ²) − D·½ log 2π
    const logPosterior = epsilon.square().sum(2).add(logVariance.sum(1).expandDims(1)).mul(-0.5).sub(latentDim * halfLogTwoPi);
    return logLikelihood.add(logPrior).sub(logPosterior).dataSync() as Float32Array;
  });
}

export async function evaluateVae(
  vae: Vae,
  test: ImageDataset,
  options: { importanceSamples: number; limit: number; seed: number; quiet: boolean },
): Promise<VaeEvaluation> {
  const targets = evaluationTargets(vae, test);
  const batchSize = 250;
  let elboSum = 0;
  let reconstructionSum = 0;
  let klSum = 0;
  let mseSum = 0;
  const random = fromSeed(options.seed).fork('eval-elbo');
  for (let start = 0; start < targets.count; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, targets.count - start) }, (_, i) => start + i);
    const [reconstruction, kl, mse] = tf.tidy(() => {
      const images = gatherImages(targets, indices);
      const { reconstruction: nllPerImage, kl: klPerImage, mean } = vae.elboTerms(images, random);
      const nll = nllPerImage.sum();
      const klTerm = klPerImage.sum();
      // Reconstruction error of the deterministic path x → μ(x) → mean image.
      const squaredError = vae.decode(mean).sub(images).square().mean([1, 2, 3]).sum();
      return [nll.dataSync()[0]!, klTerm.dataSync()[0]!, squaredError.dataSync()[0]!];
    });
    reconstructionSum += reconstruction;
    klSum += kl;
    mseSum += mse;
    elboSum += reconstruction + kl;
  }
  const iwaeImages = Math.min(options.limit, targets.count);
  const k = options.importanceSamples;
  // Decode about 2,000 latents per call: large enough to keep the backend busy, small in memory.
  const imagesPerCall = Math.max(1, Math.floor(2000 / k));
  const samplesPerCall = Math.min(k, 2000);
  const progress = createProgress({ total: iwaeImages, label: `IWAE k=${k}`, quiet: options.quiet });
  let iwaeSum = 0;
  for (let start = 0; start < iwaeImages; start += imagesPerCall) {
    const count = Math.min(imagesPerCall, iwaeImages - start);
    const images = gatherImages(targets, Array.from({ length: count }, (_, i) => start + i));
    const weights = Array.from({ length: count }, () => new Float32Array(k));
    for (let done = 0; done < k; done += samplesPerCall) {
      const samples = Math.min(samplesPerCall, k - done);
      const chunk = logImportanceWeights(vae, images, samples, options.seed, start * k + done);
      for (let i = 0; i < count; i++) weights[i]!.set(chunk.subarray(i * samples, (i + 1) * samples), done);
    }
    images.dispose();
    for (const w of weights) iwaeSum -= logMeanExp(w);
    progress.update(start + count, { nll: iwaeSum / (start + count) });
  }
  progress.stop();
  return {
    negativeElbo: elboSum / targets.count,
    reconstruction: reconstructionSum / targets.count,
    kl: klSum / targets.count,
    reconstructionMse: mseSum / targets.count,
    elboImages: targets.count,
    iwaeNll: iwaeSum / iwaeImages,
    iwaeImages,
    importanceSamples: k,
  };
}
