/**
 * A convolutional variational autoencoder (Kingma & Welling 2014).
 *
 * | ours            | paper        |
 * |-----------------|--------------|
 * | images x        | x            |
 * | mean, logVar    | μφ(x), log σφ²(x): the encoder q(z|x) = N(μ, diag σ²) |
 * | z               | z = μ + σ ⊙ ε, ε ~ N(0, I) (reparameterization) |
 * | decoder logits  | parameters of pθ(x|z)                           |
 * | beta            | β of the β-VAE objective                         |
 *
 * Loss per image (nats): −ELBO = −log pθ(x|z) + β·KL(q(z|x) ‖ N(0, I)).
 */
import * as tf from '../../core/tf.ts';
import { ParamBuilder, disposeParams, type Params } from '../../core/params.ts';
import type { Random } from '../../core/random.ts';
import { binarize } from '../../data/binarize.ts';
import { addDense, addDownConv, addUpConv, dense, denseUpConvDecoder, downConv } from '../../layers/dense-conv.ts';
import type { VaeConfig } from './config.ts';

const halfLogTwoPi = 0.5 * Math.log(2 * Math.PI);

export interface VaeLoss {
  total: tf.Scalar;
  /** negativeElbo is logged only when β ≠ 1 (otherwise it equals the total). */
  parts: { reconstruction: tf.Scalar; kl: tf.Scalar; negativeElbo?: tf.Scalar };
}

export class Vae {
  readonly family = 'vae';
  readonly params: Params;
  /** Spatial size after the encoder's convolutions. */
  private readonly bottleneck: [number, number, number];

  constructor(readonly config: VaeConfig, random: Random) {
    const { imageHeight, imageWidth, channels, convChannels, hiddenUnits, latentDim } = config;
    const downsample = 2 ** convChannels.length;
    const lastChannels = convChannels[convChannels.length - 1]!;
    this.bottleneck = [imageHeight / downsample, imageWidth / downsample, lastChannels];
    const flat = this.bottleneck[0] * this.bottleneck[1] * lastChannels;

    const builder = new ParamBuilder(random);
    convChannels.forEach((out, i) => addDownConv(builder, `encoder.conv${i}`, i === 0 ? channels : convChannels[i - 1]!, out));
    addDense(builder, 'encoder.hidden', flat, hiddenUnits);
    // Small initial outputs keep q(z|x) near the prior at the start, so the KL term starts small.
    addDense(builder, 'encoder.out', hiddenUnits, 2 * latentDim, 0.1);
    addDense(builder, 'decoder.hidden', latentDim, hiddenUnits);
    addDense(builder, 'decoder.project', hiddenUnits, flat);
    const reversed = [...convChannels].reverse();
    reversed.forEach((inChannels, i) => {
      const out = i === reversed.length - 1 ? channels : reversed[i + 1]!;
      addUpConv(builder, `decoder.deconv${i}`, inChannels, out, i === reversed.length - 1 ? 1 : undefined);
    });
    if (config.likelihood === 'gaussian') builder.constant('decoder.logScale', [channels], Math.log(0.1));
    this.params = builder.params;
  }

  get latentDim(): number {
    return this.config.latentDim;
  }

  /** q(z|x): images [B, H, W, C] in [0, 1] → mean and log-variance, each [B, latentDim]. */
  encode(images: tf.Tensor4D): { mean: tf.Tensor2D; logVariance: tf.Tensor2D } {
    return tf.tidy(() => {
      let h: tf.Tensor4D = images;
      this.config.convChannels.forEach((_, i) => {
        h = tf.relu(downConv(this.params, `encoder.conv${i}`, h));
      });
      const flat = h.reshape([h.shape[0], -1]) as tf.Tensor2D;
      const hidden = tf.relu(dense(this.params, 'encoder.hidden', flat));
      const out = dense(this.params, 'encoder.out', hidden);
      const [mean, logVariance] = tf.split(out, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
      return { mean, logVariance };
    });
  }

  /** The decoder's raw output [B, H, W, C]: Bernoulli logits, or Gaussian means before the sigmoid. */
  decodeLogits(z: tf.Tensor2D): tf.Tensor4D {
    return denseUpConvDecoder(this.params, 'decoder', z, this.bottleneck, this.config.convChannels.length);
  }

  /** pθ(x|z)'s mean image in [0, 1], [B, H, W, C]. */
  decode(z: tf.Tensor2D): tf.Tensor4D {
    return tf.tidy(() => tf.sigmoid(this.decodeLogits(z)));
  }

  /** log pθ(x|z) per image, [B], in nats. */
  logLikelihood(images: tf.Tensor4D, logits: tf.Tensor4D): tf.Tensor1D {
    return tf.tidy(() => {
      if (this.config.likelihood === 'bernoulli') {
        // log p = x·l − softplus(l), written stably as −(max(l,0) − l·x + log(1 + e^−|l|)).
        const perPixel = tf.relu(logits).sub(logits.mul(images)).add(tf.log1p(tf.exp(tf.abs(logits).neg())));
        return perPixel.sum([1, 2, 3]).neg() as tf.Tensor1D;
      }
      const logScale = tf.maximum(this.params['decoder.logScale']!, -7);
      const mean = tf.sigmoid(logits);
      const squared = images.sub(mean).div(tf.exp(logScale)).square().mul(0.5);
      const perPixel = squared.add(logScale).add(halfLogTwoPi);
      return perPixel.sum([1, 2, 3]).neg() as tf.Tensor1D;
    });
  }

  /**
   * The two ELBO terms per image, in nats: −log pθ(x|z) for one z = μ + σ ⊙ ε with ε from
   * `epsilonRandom`, and the closed-form KL(N(μ, σ²) ‖ N(0, 1)) = ½ Σ (μ² + σ² − 1 − log σ²).
   * Also returns the posterior mean, for callers that need the deterministic path.
   */
  elboTerms(targets: tf.Tensor4D, epsilonRandom: Random): { reconstruction: tf.Tensor1D; kl: tf.Tensor1D; mean: tf.Tensor2D } {
    return tf.tidy(() => {
      const { mean, logVariance } = this.encode(targets);
      const epsilon = tf.tensor(epsilonRandom.normalArray(mean.size), mean.shape);
      const z = mean.add(tf.exp(logVariance.mul(0.5)).mul(epsilon)) as tf.Tensor2D;
      const reconstruction = this.logLikelihood(targets, this.decodeLogits(z)).neg() as tf.Tensor1D;
      const kl = mean.square().add(tf.exp(logVariance)).sub(1).sub(logVariance).sum(1).mul(0.5) as tf.Tensor1D;
      return { reconstruction, kl, mean };
    });
  }

  /** The training objective on a batch; `random` supplies the binarization and ε. */
  loss(images: tf.Tensor4D, random: Random): VaeLoss {
    return tf.tidy(() => {
      const targets = this.config.likelihood === 'bernoulli' ? binarize(images, random.fork('binarize')) : images;
      const terms = this.elboTerms(targets, random.fork('epsilon'));
      const reconstruction = terms.reconstruction.mean() as tf.Scalar;
      const kl = terms.kl.mean() as tf.Scalar;
      const total = reconstruction.add(kl.mul(this.config.beta)) as tf.Scalar;
      const parts: VaeLoss['parts'] = { reconstruction, kl };
      if (this.config.beta !== 1) parts.negativeElbo = reconstruction.add(kl) as tf.Scalar;
      return { total, parts };
    });
  }

  /** Decoded images of z ~ N(0, I) drawn from `random`. */
  sample(count: number, random: Random): tf.Tensor4D {
    return tf.tidy(() => this.decode(tf.tensor2d(random.normalArray(count * this.latentDim), [count, this.latentDim])));
  }

  dispose(): void {
    disposeParams(this.params);
  }
}
