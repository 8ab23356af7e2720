/**
 * A contrastive image–text model (CLIP, Radford et al. 2021): two encoders map images and captions
 * to unit vectors in one space, trained so that each image is nearest its own caption.
 *
 * | ours                 | paper                                                     |
 * |----------------------|-----------------------------------------------------------|
 * | encodeImages(x)      | I_e = l2_normalize(I_f · W_i): conv net, then a projection |
 * | encodeTexts(tokens)  | T_e = l2_normalize(T_f · W_t): the end token's features    |
 * | logitScale           | t, learned as log(1/τ), with e^t capped at 100              |
 * | infoNce(logits)      | the symmetric cross-entropy over the batch's B×B similarities |
 *
 * The text encoder is the GPT's stack of causal blocks (../transformer/gpt.ts): causal attention
 * means the end token's features depend on the caption alone, never on the padding after it.
 */
import * as tf from '../../core/tf.ts';
import { ParamBuilder, disposeParams, type Params } from '../../core/params.ts';
import type { Random } from '../../core/random.ts';
import { addDense, addDownConv, convolve, dense, downConv } from '../../layers/dense-conv.ts';
import { ClipTextEncoder, unit } from './text-encoder.ts';
import type { ClipConfig } from './config.ts';

/** A batch: images [B, H, W, C] in [0, 1]; captions as token ids [B, T] and the end token's position in each. */
export type ClipBatch = {
  images: tf.Tensor4D;
  tokens: tf.Tensor2D;
  /** int32 [B]: the index (0..T-1) of each caption's end token. */
  ends: tf.Tensor1D;
};

const maxLogitScale = Math.log(100);

/**
 * The symmetric InfoNCE loss of a B×B matrix of logits whose diagonal holds the matching pairs:
 * the mean of the image→text and text→image cross-entropies, in nats.
 */
export function infoNce(logits: tf.Tensor2D): { total: tf.Scalar; imageToText: tf.Scalar; textToImage: tf.Scalar } {
  return tf.tidy(() => {
    const eye = tf.eye(logits.shape[0]);
    const diagonalLogProbability = (matrix: tf.Tensor2D) => tf.sum(tf.mul(tf.logSoftmax(matrix), eye), 1);
    const imageToText = tf.neg(tf.mean(diagonalLogProbability(logits))) as tf.Scalar;
    const textToImage = tf.neg(tf.mean(diagonalLogProbability(logits.transpose() as tf.Tensor2D))) as tf.Scalar;
    return { total: tf.div(tf.add(imageToText, textToImage), 2) as tf.Scalar, imageToText, textToImage };
  });
}

export class Clip {
  readonly params: Params;
  readonly text: ClipTextEncoder;
  /** Spatial size and channels after the image encoder's convolutions. */
  private readonly bottleneck: number;

  constructor(readonly config: ClipConfig, random: Random) {
    const { imageHeight, imageWidth, channels, convChannels, imageHidden, embedDim } = config;
    const builder = new ParamBuilder(random.fork('clip'));
    convChannels.forEach((out, i) => {
      const inChannels = i === 0 ? channels : convChannels[i - 1]!;
      builder.weight(`image.conv${i}.weight`, [3, 3, inChannels, out], 9 * inChannels);
      builder.constant(`image.conv${i}.bias`, [out]);
      addDownConv(builder, `image.down${i}`, out, out);
    });
    const factor = 2 ** convChannels.length;
    this.bottleneck = (imageHeight / factor) * (imageWidth / factor) * convChannels[convChannels.length - 1]!;
    addDense(builder, 'image.hidden', this.bottleneck, imageHidden);
    addDense(builder, 'image.project', imageHidden, embedDim, 1);
    this.text = new ClipTextEncoder(config, builder, random.fork('text'));
    builder.constant('logitScale', [], Math.log(1 / config.initialTemperature));
    this.params = { ...builder.params, ...this.text.params };
  }

  /** The token id that ends (and pads) every caption. */
  get endToken(): number {
    return this.text.endToken;
  }

  /** Images [B, H, W, C] in [0, 1] → unit vectors [B, embedDim]. */
  encodeImages(images: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      let h = tf.sub(tf.mul(images, 2), 1) as tf.Tensor4D; // [B, H, W, C] in [-1, 1]
      this.config.convChannels.forEach((_, i) => {
        h = tf.relu(convolve(this.params, `image.conv${i}`, h));
        h = tf.relu(downConv(this.params, `image.down${i}`, h)); // halves H and W
      });
      const hidden = tf.relu(dense(this.params, 'image.hidden', h.reshape([h.shape[0], this.bottleneck]) as tf.Tensor2D));
      return unit(dense(this.params, 'image.project', hidden)); // [B, E]
    });
  }

  /** Captions as ids [B, T] and their end positions [B] → unit vectors [B, embedDim]. */
  encodeTexts(tokens: tf.Tensor2D, ends: tf.Tensor1D): tf.Tensor2D {
    return this.text.embed(tokens, ends);
  }

  /** e^t, the factor cosine similarities are multiplied by (1/τ), capped at 100. */
  logitScale(): tf.Scalar {
    return tf.tidy(() => tf.exp(tf.minimum(this.params['logitScale']!, maxLogitScale)) as tf.Scalar);
  }

  /** The training objective on a batch: symmetric InfoNCE; the temperature τ and the in-batch accuracy are logged. */
  loss(batch: ClipBatch): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
    return tf.tidy(() => {
      const images = this.encodeImages(batch.images);
      const texts = this.encodeTexts(batch.tokens, batch.ends);
      const scale = this.logitScale();
      const logits = tf.mul(tf.matMul(images, texts, false, true), scale) as tf.Tensor2D; // [B, B]
      const { total } = infoNce(logits);
      const labels = tf.range(0, logits.shape[0], 1, 'int32');
      const accuracy = tf.mean(tf.equal(tf.argMax(logits, 1), labels).toFloat()) as tf.Scalar;
      return { total, parts: { batchAccuracy: accuracy, temperature: tf.div(1, scale) as tf.Scalar } };
    });
  }

  dispose(): void {
    this.text.dispose();
    disposeParams(Object.fromEntries(Object.entries(this.params).filter(([name]) => !(name in this.text.params))));
  }
}

