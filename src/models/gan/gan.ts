/**
 * A DCGAN-style generative adversarial network (Radford et al. 2016) with the stabilisers that make
 * a first run work: hinge loss (Lim & Ye 2017), spectral normalisation of the discriminator (Miyato
 * et al. 2018), a projection discriminator for labels (Miyato & Koyama 2018), pixel normalisation in
 * the generator (Karras et al. 2018), an exponential moving average of the generator's weights
 * (Yazıcı et al. 2019) and a discriminator that learns faster than the generator (TTUR, Heusel et
 * al. 2017).
 *
 * Why a projection discriminator rather than AC-GAN: AC-GAN's auxiliary classifier rewards the
 * generator for easy-to-classify images and is known to drop within-class variety; the projection
 * term ⟨embed(y), φ(x)⟩ makes D judge "is this a real image of class y" directly and needs no extra
 * loss.
 *
 * Parameter names: g.* the generator, d.* the discriminator, ema.g.* the averaged generator that
 * sampling uses. Pixels: data in [0, 1] is shown to D as [−1, 1]; G ends in tanh.
 */
import * as tf from '../../core/tf.ts';
import { GenloomError } from '../../core/errors.ts';
import { ParamBuilder, disposeParams, type Params } from '../../core/params.ts';
import type { Random } from '../../core/random.ts';
import { updateAverage } from '../../train/ema.ts';
import type { TrainingPhase } from '../../train/trainer.ts';
import { addDense, addUpConv, dense, upConv } from '../../layers/dense-conv.ts';
import type { GanConfig } from './config.ts';
import { addSpectralNorm, powerIterate, spectrallyNormalized } from './spectral-norm.ts';

export type GanBatch = { images: tf.Tensor4D; labels?: tf.Tensor1D };

/** Options for drawing images. */
export interface GanSampleOptions {
  /** One label per image (conditional models); default: labels drawn at random. */
  labels?: ArrayLike<number>;
  /** Truncation ψ in (0, 1]: latents scaled toward the mean, trading variety for fidelity. */
  truncation?: number;
}

const leak = 0.2;

export class Gan {
  readonly params: Params;
  readonly generatorParams: Params = {};
  readonly discriminatorParams: Params = {};
  private readonly start: [number, number];

  constructor(readonly config: GanConfig, random: Random) {
    const { imageHeight, imageWidth, channels, classes, latentDim, generatorChannels: gCh, discriminatorChannels: dCh } = config;
    const factor = 2 ** gCh.length;
    this.start = [imageHeight / factor, imageWidth / factor];
    const builder = new ParamBuilder(random);

    // Generator: [z·ψ, one-hot(y)] → dense → start×start×(2·gCh[0]) → stride-2 transposed convs → 3×3 conv → tanh.
    const projected = 2 * gCh[0]!;
    addDense(builder, 'g.project', latentDim + classes, this.start[0] * this.start[1] * projected);
    gCh.forEach((out, i) => addUpConv(builder, `g.up${i}`, i === 0 ? projected : gCh[i - 1]!, out));
    builder.weight('g.out.weight', [3, 3, gCh[gCh.length - 1]!, channels], 9 * gCh[gCh.length - 1]!, 1);
    builder.constant('g.out.bias', [channels]);

    // Discriminator: stride-2 4×4 convs with leaky ReLU → flatten φ(x) → ψ(φ) + ⟨embed(y), φ⟩.
    dCh.forEach((out, i) => {
      const inChannels = i === 0 ? channels : dCh[i - 1]!;
      builder.weight(`d.conv${i}.weight`, [4, 4, inChannels, out], 16 * inChannels);
      builder.constant(`d.conv${i}.bias`, [out]);
      addSpectralNorm(builder, `d.conv${i}.weight`, 16 * inChannels, out);
    });
    const flat = (imageHeight / 2 ** dCh.length) * (imageWidth / 2 ** dCh.length) * dCh[dCh.length - 1]!;
    addDense(builder, 'd.out', flat, 1, 1);
    addSpectralNorm(builder, 'd.out.weight', flat, 1);
    if (classes > 0) {
      builder.weight('d.embed.weight', [classes, flat], flat, 1);
      addSpectralNorm(builder, 'd.embed.weight', classes, flat);
    }

    for (const [name, variable] of Object.entries(builder.params)) {
      if (name.startsWith('g.')) this.generatorParams[name] = variable;
      else if (!name.includes('.sn_')) this.discriminatorParams[name] = variable;
    }
    // The averaged generator starts as a copy and is updated by afterStep().
    for (const [name, variable] of Object.entries(this.generatorParams)) {
      builder.constant(`ema.${name}`, variable.shape).assign(variable);
    }
    this.params = builder.params;
    powerIterate(this.params);
  }

  get conditional(): boolean {
    return this.config.classes > 0;
  }

  /** Generator: latents [B, latentDim] and one-hot (or mixed) labels [B, classes] → tanh pixels. */
  generate(z: tf.Tensor2D, condition: tf.Tensor2D | null, averaged: boolean): tf.Tensor4D {
    return tf.tidy(() => {
      const weights = averaged ? this.averagedGenerator() : this.params;
      const input = condition ? tf.concat([z, condition], 1) : z;
      const { generatorChannels: gCh } = this.config;
      let h = dense(weights, 'g.project', input).reshape([z.shape[0], this.start[0], this.start[1], 2 * gCh[0]!]) as tf.Tensor4D;
      h = tf.relu(pixelNorm(h));
      gCh.forEach((_, i) => {
        h = tf.relu(pixelNorm(upConv(weights, `g.up${i}`, h)));
      });
      const out = tf.add(tf.conv2d(h, weights['g.out.weight'] as tf.Tensor4D, 1, 'same'), weights['g.out.bias']!);
      return tf.tanh(out) as tf.Tensor4D;
    });
  }

  private averagedGenerator(): Params {
    const out: Params = {};
    for (const name of Object.keys(this.generatorParams)) out[name] = this.params[`ema.${name}`]!;
    return out;
  }

  /** Discriminator logits [B] for pixels in [−1, 1] and integer labels (conditional models). */
  discriminate(pixels: tf.Tensor4D, labels: tf.Tensor1D | null): tf.Tensor1D {
    return tf.tidy(() => {
      let h: tf.Tensor4D = pixels;
      this.config.discriminatorChannels.forEach((_, i) => {
        const weight = spectrallyNormalized(this.params, `d.conv${i}.weight`) as tf.Tensor4D;
        h = tf.leakyRelu(tf.add(tf.conv2d(h, weight, 2, 'same'), this.params[`d.conv${i}.bias`]!), leak) as tf.Tensor4D;
      });
      const features = h.reshape([h.shape[0], -1]) as tf.Tensor2D;
      const outWeight = spectrallyNormalized(this.params, 'd.out.weight') as tf.Tensor2D;
      let logits = tf.add(tf.matMul(features, outWeight), this.params['d.out.bias']!).reshape([-1]) as tf.Tensor1D;
      if (this.conditional && labels) {
        const embed = spectrallyNormalized(this.params, 'd.embed.weight') as tf.Tensor2D;
        // A one-hot product rather than a gather: the same rows, and much faster on wasm.
        const rows = tf.matMul(tf.oneHot(labels.toInt(), this.config.classes).toFloat(), embed);
        const projection = tf.sum(tf.mul(rows, features), 1);
        logits = tf.add(logits, projection);
      }
      return logits;
    });
  }

  /** Latents ψ·z, z ~ N(0, I), from `random` (the seed fixes the images). */
  latents(count: number, random: Random, truncation = 1): tf.Tensor2D {
    return tf.tensor2d(random.normalArray(count * this.config.latentDim, truncation), [count, this.config.latentDim]);
  }

  /** Labels for `count` images: the given ones, or uniform draws. */
  labels(count: number, random: Random, given?: ArrayLike<number>): Int32Array {
    if (given) {
      const labels = Int32Array.from(given);
      const bad = labels.find((label) => !(label >= 0 && label < this.config.classes));
      if (bad !== undefined) throw new GenloomError('BAD_ARGUMENT', `label ${bad} is outside this model's labels 0..${this.config.classes - 1}`);
      return labels;
    }
    return Int32Array.from({ length: count }, () => random.integer(this.config.classes));
  }

  oneHot(labels: Int32Array): tf.Tensor2D {
    return tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), this.config.classes).toFloat() as tf.Tensor2D);
  }

  /** `count` images [B, H, W, C] in [0, 1] from the averaged generator. */
  sample(count: number, random: Random, options: GanSampleOptions = {}): tf.Tensor4D {
    const z = this.latents(count, random.fork('z'), options.truncation ?? 1);
    const condition = this.conditional ? this.oneHot(this.labels(count, random.fork('labels'), options.labels)) : null;
    const images = tf.tidy(() => toUnit(this.generate(z, condition, true)));
    tf.dispose(condition ? [z, condition] : [z]);
    return images;
  }

  /** Training: the discriminator's then the generator's update, each with its own optimizer. */
  phases(learningRateRatio: number): TrainingPhase<GanBatch>[] {
    const hinge = this.config.loss === 'hinge';
    return [
      {
        name: 'd',
        params: this.discriminatorParams,
        learningRateScale: learningRateRatio,
        adam: { beta1: 0, beta2: 0.9 },
        loss: (batch, random) => {
          const count = batch.images.shape[0];
          const labels = this.conditional ? batch.labels!.toInt() : null;
          const z = tf.tensor2d(random.normalArray(count * this.config.latentDim), [count, this.config.latentDim]);
          const fake = this.generate(z, labels ? (tf.oneHot(labels, this.config.classes).toFloat() as tf.Tensor2D) : null, false);
          const realLogits = this.discriminate(tf.sub(tf.mul(batch.images, 2), 1) as tf.Tensor4D, labels);
          const fakeLogits = this.discriminate(fake, labels);
          const total = hinge
            ? tf.add(tf.mean(tf.relu(tf.sub(1, realLogits))), tf.mean(tf.relu(tf.add(1, fakeLogits))))
            : tf.add(tf.mean(tf.softplus(tf.neg(realLogits))), tf.mean(tf.softplus(fakeLogits)));
          return {
            total: total as tf.Scalar,
            parts: {
              dRealAccuracy: tf.mean(tf.greater(realLogits, 0).toFloat()) as tf.Scalar,
              dFakeAccuracy: tf.mean(tf.less(fakeLogits, 0).toFloat()) as tf.Scalar,
            },
          };
        },
      },
      {
        name: 'g',
        params: this.generatorParams,
        adam: { beta1: 0, beta2: 0.9 },
        loss: (batch, random) => {
          const count = batch.images.shape[0];
          const labels = this.conditional ? tf.tensor1d(this.labels(count, random.fork('labels')), 'int32') : null;
          const z = tf.tensor2d(random.normalArray(count * this.config.latentDim), [count, this.config.latentDim]);
          const fake = this.generate(z, labels ? (tf.oneHot(labels, this.config.classes).toFloat() as tf.Tensor2D) : null, false);
          const fakeLogits = this.discriminate(fake, labels);
          const total = hinge ? tf.neg(tf.mean(fakeLogits)) : tf.mean(tf.softplus(tf.neg(fakeLogits)));
          return { total: total as tf.Scalar, parts: {} };
        },
      },
    ];
  }

  /** Before each step: refresh the spectral-norm estimates. */
  beforeStep(): void {
    powerIterate(this.params);
  }

  /** After each step: move the averaged generator toward the current one. */
  afterStep(step: number): void {
    updateAverage(this.averagedGenerator(), this.generatorParams, step, this.config.emaDecay);
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

/** Normalises each pixel's feature vector to unit average square (ProGAN's pixel norm). */
function pixelNorm(x: tf.Tensor4D): tf.Tensor4D {
  return tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), 3, true), 1e-8))) as tf.Tensor4D;
}

/** tanh pixels in [−1, 1] → [0, 1]. */
export function toUnit(pixels: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.div(tf.add(pixels, 1), 2) as tf.Tensor4D);
}
