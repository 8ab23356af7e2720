/**
 * A Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders")
 * for binary images: p(x) = Π_i p(x_i | x_<i) in raster order, one Bernoulli logit per pixel.
 *
 * Causality comes from where each convolution looks, not from zeroed kernel taps:
 * - the vertical stack sees the rows at and above a pixel ((c+1)×k kernel over a top-padded input);
 *   it feeds the horizontal stack only after a shift down by one row, so row i sees rows < i;
 * - the horizontal stack sees its own row at and left of the pixel (1×(c+1) kernel over a
 *   left-padded input); the first layer is shifted one more column so it never sees the pixel
 *   itself (the "type A" mask; later layers are "type B").
 * Two stacks instead of one masked k×k kernel remove the blind spot of the original PixelCNN.
 *
 * Each layer: y = tanh(a) ⊙ σ(b) on 2p pre-activation channels; the vertical pre-activation is
 * added to the horizontal one through a 1×1 convolution (never the reverse); the horizontal output
 * has a residual connection (not in the first layer) and a 1×1 skip to the output head.
 */
import * as tf from '../../core/tf.ts';
import { ParamBuilder, disposeParams, type Params } from '../../core/params.ts';
import type { Random } from '../../core/random.ts';
import type { PixelCnnConfig } from './config.ts';

/** Binary images [B, H, W, 1] (0 or 1), and their labels for a conditional model. */
export type PixelCnnBatch = { images: tf.Tensor4D; labels?: tf.Tensor1D };

export class PixelCnn {
  readonly family = 'pixelcnn';
  readonly params: Params;

  constructor(readonly config: PixelCnnConfig, random: Random) {
    const { features: p, inputKernel, kernel, layers, headChannels, classes } = config;
    const builder = new ParamBuilder(random);
    for (let layer = 0; layer <= layers; layer++) {
      const k = layer === 0 ? inputKernel : kernel;
      const c = Math.floor(k / 2);
      const inputs = layer === 0 ? 1 : p;
      const name = `layers.${layer}`;
      builder.weight(`${name}.vertical.weight`, [c + 1, k, inputs, 2 * p], (c + 1) * k * inputs, 1);
      builder.constant(`${name}.vertical.bias`, [2 * p]);
      builder.weight(`${name}.horizontal.weight`, [1, c + 1, inputs, 2 * p], (c + 1) * inputs, 1);
      builder.constant(`${name}.horizontal.bias`, [2 * p]);
      builder.weight(`${name}.link.weight`, [2 * p, 2 * p], 2 * p, 1);
      if (classes > 0) {
        builder.weight(`${name}.label.weight`, [classes, 4 * p], 1, 0.1);
      }
      // The first layer has no residual, so its output projection is the skip alone.
      if (layer > 0) {
        builder.weight(`${name}.out.weight`, [p, p], p, 1);
        builder.constant(`${name}.out.bias`, [p]);
      }
      builder.weight(`${name}.skip.weight`, [p, headChannels], p, 1);
    }
    builder.constant('head.hidden.bias', [headChannels]);
    builder.weight('head.out.weight', [headChannels, 1], headChannels, 1);
    builder.constant('head.out.bias', [1]);
    this.params = builder.params;
  }

  get conditional(): boolean {
    return this.config.classes > 0;
  }

  /**
   * How many rows above a pixel its logit can depend on: the first layer reaches c₀ rows up, each
   * gated layer c more, and the shift into the horizontal stack one more. Sampling row i needs only
   * the rows from i − reach.
   */
  get reach(): number {
    return Math.floor(this.config.inputKernel / 2) + this.config.layers * Math.floor(this.config.kernel / 2) + 1;
  }

  /** Bernoulli logits [B, H, W, 1] of each pixel given the pixels before it; `images` are 0/1. */
  logits(images: tf.Tensor4D, labels?: tf.Tensor1D): tf.Tensor4D {
    return tf.tidy(() => {
      const { features: p, layers, inputKernel, kernel, classes } = this.config;
      if (classes > 0 && !labels) throw new Error('a conditional PixelCNN needs labels');
      const [batch, height, width] = images.shape;
      const oneHot = classes > 0 ? tf.oneHot(labels!, classes).toFloat() : undefined;
      // Centre the binary input so a zero row of padding is not the same as a row of zeros.
      const x = images.mul(2).sub(1) as tf.Tensor4D;
      let vertical: tf.Tensor4D = x;
      let horizontal: tf.Tensor4D = x;
      let skips: tf.Tensor4D | undefined;
      for (let layer = 0; layer <= layers; layer++) {
        const name = `layers.${layer}`;
        const c = Math.floor((layer === 0 ? inputKernel : kernel) / 2);
        // Vertical stack: rows i − c … i, columns j − c … j + c.
        let verticalPre = tf.conv2d(tf.pad(vertical, [[0, 0], [c, 0], [c, c], [0, 0]]), this.params[`${name}.vertical.weight`] as tf.Tensor4D, 1, 'valid');
        verticalPre = verticalPre.add(this.params[`${name}.vertical.bias`]!);
        // Horizontal stack: columns j − c … j (the first layer: j − c − 1 … j − 1).
        const shift = layer === 0 ? 1 : 0;
        const leftPadded = tf.pad(horizontal, [[0, 0], [0, 0], [c + shift, 0], [0, 0]]);
        const shifted = shift ? leftPadded.slice([0, 0, 0, 0], [batch, height, width + c, -1]) : leftPadded;
        let horizontalPre = tf.conv2d(shifted as tf.Tensor4D, this.params[`${name}.horizontal.weight`] as tf.Tensor4D, 1, 'valid');
        horizontalPre = horizontalPre.add(this.params[`${name}.horizontal.bias`]!);
        // The vertical stack, moved down a row, joins the horizontal one.
        const down = tf.pad(verticalPre, [[0, 0], [1, 0], [0, 0], [0, 0]]).slice([0, 0, 0, 0], [batch, height, width, 2 * p]);
        horizontalPre = horizontalPre.add(pointwise(down as tf.Tensor4D, this.params[`${name}.link.weight`] as tf.Tensor2D));
        if (oneHot) {
          const [verticalBias, horizontalBias] = tf.split(tf.matMul(oneHot, this.params[`${name}.label.weight`] as tf.Tensor2D).reshape([batch, 1, 1, 4 * p]), 2, 3);
          verticalPre = verticalPre.add(verticalBias!);
          horizontalPre = horizontalPre.add(horizontalBias!);
        }
        vertical = gate(verticalPre);
        const gated = gate(horizontalPre);
        const skip = pointwise(gated, this.params[`${name}.skip.weight`] as tf.Tensor2D);
        skips = skips ? (skips.add(skip) as tf.Tensor4D) : skip;
        horizontal = layer === 0 ? gated : horizontal.add(pointwise(gated, this.params[`${name}.out.weight`] as tf.Tensor2D).add(this.params[`${name}.out.bias`]!)) as tf.Tensor4D;
      }
      const hidden = tf.relu(skips!.add(this.params['head.hidden.bias']!)) as tf.Tensor4D;
      return pointwise(hidden, this.params['head.out.weight'] as tf.Tensor2D).add(this.params['head.out.bias']!);
    });
  }

  /** −log p(x) per image in nats: the summed binary cross-entropy of every pixel. */
  negativeLogLikelihood(images: tf.Tensor4D, labels?: tf.Tensor1D): tf.Tensor1D {
    return tf.tidy(() => {
      const logits = this.logits(images, labels);
      // BCE with logits, stably: max(l, 0) − l·x + log(1 + e^−|l|).
      const perPixel = tf.relu(logits).sub(logits.mul(images)).add(tf.log1p(tf.exp(tf.abs(logits).neg())));
      return perPixel.sum([1, 2, 3]) as tf.Tensor1D;
    });
  }

  /** The training objective: mean NLL per image in nats. */
  loss(batch: PixelCnnBatch): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
    return tf.tidy(() => ({ total: this.negativeLogLikelihood(batch.images, batch.labels).mean() as tf.Scalar, parts: {} }));
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

/** tanh(a) ⊙ σ(b) over the two halves of the channels. */
function gate(preActivation: tf.Tensor4D): tf.Tensor4D {
  const [a, b] = tf.split(preActivation, 2, 3);
  return tf.tanh(a!).mul(tf.sigmoid(b!));
}

/** A 1×1 convolution as one matrix product over all pixels. */
function pointwise(x: tf.Tensor4D, weight: tf.Tensor2D): tf.Tensor4D {
  const [batch, height, width, channels] = x.shape;
  return tf.matMul(x.reshape([batch * height * width, channels]), weight).reshape([batch, height, width, weight.shape[1]]);
}
