/**
 * A KL-regularised convolutional autoencoder, the first stage of latent diffusion (Rombach et al.
 * 2022, appendix G, without its perceptual and adversarial losses: at 32×32 an L1 loss keeps emoji
 * edges sharp enough, and both would need networks we do not ship).
 *
 * | ours                  | paper                                              |
 * |-----------------------|----------------------------------------------------|
 * | encode(x)             | E(x): the posterior q(z|x) = N(μ, diag σ²), spatial |
 * | decode(z)             | D(z)                                               |
 * | klWeight              | the KL-reg weight (1e-6)                            |
 * | latentScale (index.ts)| the scale factor: 1/std of z over training images   |
 *
 * Loss per image: Σ_pixels |x − D(z)| + klWeight · KL(q(z|x) ‖ N(0, I)), z = μ + σ·ε; reported
 * divided by the number of pixel values (a mean L1 in the [−1, 1] data range).
 */
import * as tf from '../../core/tf.ts';
import { ParamBuilder, disposeParams, type Params } from '../../core/params.ts';
import type { Random } from '../../core/random.ts';
import { convolve } from '../../layers/dense-conv.ts';
import { groupNorm } from '../../layers/ops.ts';
import { latentShape, type AutoencoderConfig } from './config.ts';

export type AutoencoderBatch = { images: tf.Tensor4D };

export class Autoencoder {
  readonly params: Params;
  readonly latentShape: [number, number, number];

  constructor(readonly config: AutoencoderConfig, random: Random) {
    const { channels, latentChannels, levelChannels } = config;
    this.latentShape = latentShape(config);
    const b = new ParamBuilder(random);
    const last = levelChannels[levelChannels.length - 1]!;
    // Encoder: image → level 0 … last (halving between levels) → mean and log-variance.
    addConv(b, 'encoder.in', 3, channels, levelChannels[0]!);
    let current = levelChannels[0]!;
    levelChannels.forEach((width, level) => {
      addResBlock(b, `encoder.level${level}`, current, width);
      current = width;
      if (level < levelChannels.length - 1) addConv(b, `encoder.level${level}.down`, 3, width, width);
    });
    addResBlock(b, 'encoder.mid', last, last);
    addNorm(b, 'encoder.out.norm', last);
    addConv(b, 'encoder.out', 3, last, 2 * latentChannels);
    // Decoder: the mirror image, upsampling by nearest neighbour then a 3×3 conv.
    addConv(b, 'decoder.in', 3, latentChannels, last);
    addResBlock(b, 'decoder.mid', last, last);
    current = last;
    [...levelChannels].reverse().forEach((width, reversed) => {
      const level = levelChannels.length - 1 - reversed;
      addResBlock(b, `decoder.level${level}`, current, width);
      current = width;
      if (level > 0) addConv(b, `decoder.level${level}.up`, 3, width, levelChannels[level - 1]!);
      if (level > 0) current = levelChannels[level - 1]!;
    });
    addNorm(b, 'decoder.out.norm', current);
    addConv(b, 'decoder.out', 3, current, channels);
    this.params = b.params;
  }

  /** q(z|x): images [B, H, W, C] in [0, 1] → mean and log-variance, each [B, h, w, latentChannels]. */
  encode(images: tf.Tensor4D): { mean: tf.Tensor4D; logVariance: tf.Tensor4D } {
    return tf.tidy(() => {
      const p = this.params;
      const { levelChannels, groups } = this.config;
      let h = convolve(p, 'encoder.in', tf.sub(tf.mul(images, 2), 1) as tf.Tensor4D); // [B, H, W, c0], data in [−1, 1]
      levelChannels.forEach((_, level) => {
        h = resBlock(p, `encoder.level${level}`, h, groups);
        if (level < levelChannels.length - 1) h = convolve(p, `encoder.level${level}.down`, h, 2); // halves H and W
      });
      h = resBlock(p, 'encoder.mid', h, groups);
      const out = convolve(p, 'encoder.out', norm(p, 'encoder.out.norm', h, groups)); // [B, h, w, 2·latentChannels]
      const [mean, logVariance] = tf.split(out, 2, 3) as [tf.Tensor4D, tf.Tensor4D];
      // As the LDM code does: a bounded log-variance keeps exp() finite early in training.
      return { mean, logVariance: tf.clipByValue(logVariance, -30, 20) as tf.Tensor4D };
    });
  }

  /** D(z) in the data range [−1, 1] (unclipped): latents [B, h, w, latentChannels] → [B, H, W, C]. */
  decodeData(z: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const p = this.params;
      const { levelChannels, groups } = this.config;
      let h = resBlock(p, 'decoder.mid', convolve(p, 'decoder.in', z), groups);
      for (let level = levelChannels.length - 1; level >= 0; level--) {
        h = resBlock(p, `decoder.level${level}`, h, groups);
        if (level > 0) h = convolve(p, `decoder.level${level}.up`, tf.image.resizeNearestNeighbor(h, [h.shape[1] * 2, h.shape[2] * 2])); // doubles H and W
      }
      return convolve(p, 'decoder.out', norm(p, 'decoder.out.norm', h, groups));
    });
  }

  /** Latents → images [B, H, W, C] in [0, 1]. */
  decode(z: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => tf.clipByValue(tf.div(tf.add(this.decodeData(z), 1), 2), 0, 1) as tf.Tensor4D);
  }

  /** Images → their reconstruction through the posterior mean, in [0, 1]. */
  reconstruct(images: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => this.decode(this.encode(images).mean));
  }

  loss(batch: AutoencoderBatch, random: Random): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
    return tf.tidy(() => {
      const { mean, logVariance } = this.encode(batch.images);
      const epsilon = tf.tensor(random.fork('epsilon').normalArray(mean.size), mean.shape);
      const z = tf.add(mean, tf.mul(tf.exp(tf.mul(logVariance, 0.5)), epsilon)) as tf.Tensor4D;
      const target = tf.sub(tf.mul(batch.images, 2), 1);
      const values = batch.images.size / batch.images.shape[0];
      const l1 = tf.mean(tf.abs(tf.sub(this.decodeData(z), target))) as tf.Scalar; // per pixel value
      // KL(N(μ, σ²) ‖ N(0, 1)) = ½ Σ (μ² + σ² − 1 − log σ²), per image.
      const kl = tf.div(tf.sum(tf.sub(tf.sub(tf.add(tf.square(mean), tf.exp(logVariance)), 1), logVariance)), 2 * mean.shape[0]) as tf.Scalar;
      const total = tf.add(l1, tf.mul(kl, this.config.klWeight / values)) as tf.Scalar;
      return { total, parts: { l1, kl } };
    });
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

function addConv(b: ParamBuilder, name: string, size: number, inChannels: number, outChannels: number, gain?: number): void {
  b.weight(`${name}.weight`, [size, size, inChannels, outChannels], size * size * inChannels, gain);
  b.constant(`${name}.bias`, [outChannels]);
}

function addNorm(b: ParamBuilder, name: string, channels: number): void {
  b.constant(`${name}.scale`, [channels], 1);
  b.constant(`${name}.shift`, [channels]);
}

/** A residual block: (norm, SiLU, 3×3 conv) twice, plus a 1×1 conv on the skip path when the width changes. */
function addResBlock(b: ParamBuilder, name: string, inChannels: number, outChannels: number): void {
  addNorm(b, `${name}.norm0`, inChannels);
  addConv(b, `${name}.conv0`, 3, inChannels, outChannels);
  addNorm(b, `${name}.norm1`, outChannels);
  addConv(b, `${name}.conv1`, 3, outChannels, outChannels, 0.1);
  if (inChannels !== outChannels) addConv(b, `${name}.skip`, 1, inChannels, outChannels, 1);
}

/** Group norm then SiLU. */
function norm(p: Params, name: string, x: tf.Tensor4D, groups: number): tf.Tensor4D {
  return groupNorm(x, p[`${name}.scale`] as tf.Tensor1D, p[`${name}.shift`] as tf.Tensor1D, groups, true);
}

function resBlock(p: Params, name: string, x: tf.Tensor4D, groups: number): tf.Tensor4D {
  const h = convolve(p, `${name}.conv1`, norm(p, `${name}.norm1`, convolve(p, `${name}.conv0`, norm(p, `${name}.norm0`, x, groups)), groups));
  const skip = p[`${name}.skip.weight`] ? convolve(p, `${name}.skip`, x) : x;
  return tf.add(skip, h) as tf.Tensor4D;
}
