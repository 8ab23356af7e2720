/**
 * A small convolutional image classifier: 3×3 convs with ReLU and 2×2 max pooling, a dense feature
 * layer, and class logits. Its feature layer (after ReLU, before dropout) is what the image metrics
 * compare real and generated images in.
 */
import * as tf from '../../core/tf.ts';
import { ParamBuilder, disposeParams, type Params } from '../../core/params.ts';
import type { Random } from '../../core/random.ts';
import { addDense, dense } from '../../layers/dense-conv.ts';
import type { ClassifierConfig } from './config.ts';

export type ClassifierBatch = {
  images: tf.Tensor4D;
  labels: tf.Tensor1D;
};

export class Classifier {
  readonly params: Params;

  constructor(readonly config: ClassifierConfig, random: Random) {
    const { convChannels, channels, featureDim, classes } = config;
    const builder = new ParamBuilder(random);
    convChannels.forEach((out, i) => {
      const inChannels = i === 0 ? channels : convChannels[i - 1]!;
      builder.weight(`conv${i}.weight`, [3, 3, inChannels, out], 9 * inChannels);
      builder.constant(`conv${i}.bias`, [out]);
    });
    addDense(builder, 'features', this.flatSize(), featureDim);
    addDense(builder, 'logits', featureDim, classes, 1);
    this.params = builder.params;
  }

  private flatSize(): number {
    let height = this.config.imageHeight;
    let width = this.config.imageWidth;
    for (let i = 0; i < this.config.convChannels.length - 1; i++) {
      height = Math.floor(height / 2);
      width = Math.floor(width / 2);
    }
    return height * width * this.config.convChannels[this.config.convChannels.length - 1]!;
  }

  /** Images [B, H, W, C] in [0, 1] → the penultimate features [B, featureDim]. */
  features(images: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      let h: tf.Tensor4D = images;
      const last = this.config.convChannels.length - 1;
      for (let i = 0; i <= last; i++) {
        h = tf.relu(tf.add(tf.conv2d(h, this.params[`conv${i}.weight`] as tf.Tensor4D, 1, 'same'), this.params[`conv${i}.bias`]!)) as tf.Tensor4D;
        if (i < last) h = tf.maxPool(h, 2, 2, 'valid');
      }
      return tf.relu(dense(this.params, 'features', h.reshape([h.shape[0], -1]) as tf.Tensor2D));
    });
  }

  logitsFromFeatures(features: tf.Tensor2D): tf.Tensor2D {
    return dense(this.params, 'logits', features);
  }

  logits(images: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.logitsFromFeatures(this.features(images)));
  }

  /** Mean cross-entropy (nats) with dropout on the features; `accuracy` is logged. */
  loss(batch: ClassifierBatch, random: Random): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
    let features = this.features(batch.images);
    const keep = 1 - this.config.dropout;
    if (keep < 1) {
      // Inverted dropout with a mask from our seeded generator, so a run is reproducible.
      const noise = random.uniformArray(features.size);
      const mask = tf.tensor(Float32Array.from(noise, (u) => (u < keep ? 1 / keep : 0)), features.shape);
      features = tf.mul(features, mask);
    }
    const logits = this.logitsFromFeatures(features);
    const labels = batch.labels.toInt();
    const logProbabilities = tf.logSoftmax(logits);
    const picked = tf.sum(tf.mul(logProbabilities, tf.oneHot(labels, this.config.classes)), 1);
    const total = tf.neg(tf.mean(picked)) as tf.Scalar;
    const accuracy = tf.mean(tf.equal(tf.argMax(logits, 1), labels).toFloat()) as tf.Scalar;
    return { total, parts: { accuracy } };
  }

  dispose(): void {
    disposeParams(this.params);
  }
}
