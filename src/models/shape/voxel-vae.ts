/**
 * A variational autoencoder on voxel grids (Kingma & Welling 2014; on 3-D shapes as in Brock et
 * al. 2016), built from the patch convolutions of voxel-layers.ts.
 *
 * | ours            | paper        |
 * |-----------------|--------------|
 * | voxels x        | x ∈ {0, 1}^(r³) |
 * | mean, logVar    | μφ(x), log σφ²(x) of q(z|x) = N(μ, diag σ²) |
 * | z               | μ + σ ⊙ ε, ε ~ N(0, I) |
 * | label y         | one-hot, given to the decoder pθ(x|z, y) (conditional models) |
 * | beta            | β of the β-VAE objective |
 *
 * Loss per shape (nats): −log pθ(x|z, y) + β·KL(q(z|x) ‖ N(0, I)), with a Bernoulli likelihood per
 * voxel. Plain BCE, not an occupied-voxel weight: a weight makes the loss no longer a likelihood
 * (so no ELBO to compare), and solid procedural shapes are not sparse like surface shells. Not yet
 * measured against a weighted loss: if thin parts (legs, torus tubes) vanish, revisit.
 *
 * Network: encoder patchDown × levels → 3³ conv at the bottleneck → dense → (μ, log σ²); decoder
 * [z, y] → dense → 3³ conv → patchUp × levels → one logit per voxel.
 */
import * as tf from '../../core/tf.ts';
import { GenloomError } from '../../core/errors.ts';
import { ParamBuilder, disposeParams, type Params } from '../../core/params.ts';
import type { Random } from '../../core/random.ts';
import { addDense, dense } from '../../layers/dense-conv.ts';
import type { ShapeConfig } from './config.ts';
import { addMix3, addPatchDown, addPatchUp, mix3, patchDown, patchUp, type Voxels } from './voxel-layers.ts';

/** voxels [B, r, r, r, 1] in {0, 1}; labels [B] (conditional models). A type, not an interface: the trainer's batch needs an index signature. */
export type ShapeBatch = { voxels: tf.Tensor5D; labels?: tf.Tensor1D };

export interface ShapeLoss {
  total: tf.Scalar;
  parts: Record<string, tf.Scalar>;
}

export class VoxelVae {
  readonly params: Params;
  /** Side and channels of the bottleneck grid. */
  private readonly bottleneck: number;
  private readonly bottleneckChannels: number;

  constructor(readonly config: ShapeConfig, random: Random) {
    const { resolution, channels, latentDim, classes } = config;
    this.bottleneck = resolution / 2 ** channels.length;
    this.bottleneckChannels = channels[channels.length - 1]!;
    const flat = this.bottleneck ** 3 * this.bottleneckChannels;
    const builder = new ParamBuilder(random);
    channels.forEach((out, i) => addPatchDown(builder, `encoder.down${i}`, i === 0 ? 1 : channels[i - 1]!, out));
    addMix3(builder, 'encoder.mix', this.bottleneckChannels, this.bottleneckChannels);
    // Small initial outputs keep q(z|x) near the prior at the start, so the KL term starts small.
    addDense(builder, 'encoder.out', flat, 2 * latentDim, 0.1);
    addDense(builder, 'decoder.project', latentDim + classes, flat);
    addMix3(builder, 'decoder.mix', this.bottleneckChannels, this.bottleneckChannels);
    const reversed = [...channels].reverse();
    reversed.forEach((inChannels, i) => {
      const last = i === reversed.length - 1;
      addPatchUp(builder, `decoder.up${i}`, inChannels, last ? 1 : reversed[i + 1]!, last ? 1 : undefined);
    });
    this.params = builder.params;
  }

  get latentDim(): number {
    return this.config.latentDim;
  }

  get conditional(): boolean {
    return this.config.classes > 0;
  }

  /** q(z|x): voxels [B, r, r, r, 1] → mean and log-variance, each [B, latentDim]. */
  encode(voxels: Voxels): { mean: tf.Tensor2D; logVariance: tf.Tensor2D } {
    return tf.tidy(() => {
      let h = voxels;
      this.config.channels.forEach((_, i) => {
        h = tf.relu(patchDown(this.params, `encoder.down${i}`, h));
      });
      h = tf.relu(tf.add(h, mix3(this.params, 'encoder.mix', h))) as Voxels;
      const out = dense(this.params, 'encoder.out', h.reshape([h.shape[0], -1]) as tf.Tensor2D);
      const [mean, logVariance] = tf.split(out, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
      return { mean, logVariance };
    });
  }

  /** One logit per voxel, [B, r, r, r, 1], for latents z [B, latentDim] and (conditional) labels. */
  decodeLogits(z: tf.Tensor2D, labels?: ArrayLike<number>): Voxels {
    return tf.tidy(() => {
      const count = z.shape[0];
      const input = this.conditional ? tf.concat([z, this.oneHot(labels, count)], 1) : z;
      const side = this.bottleneck;
      let h = tf.relu(dense(this.params, 'decoder.project', input as tf.Tensor2D)).reshape([count, side, side, side, this.bottleneckChannels]) as Voxels;
      h = tf.relu(tf.add(h, mix3(this.params, 'decoder.mix', h))) as Voxels;
      const levels = this.config.channels.length;
      for (let i = 0; i < levels; i++) {
        h = patchUp(this.params, `decoder.up${i}`, h);
        if (i < levels - 1) h = tf.relu(h);
      }
      return h;
    });
  }

  /** Occupancy probabilities [B, r, r, r, 1]. */
  decode(z: tf.Tensor2D, labels?: ArrayLike<number>): Voxels {
    return tf.tidy(() => tf.sigmoid(this.decodeLogits(z, labels)));
  }

  /** −ELBO on a batch: the Bernoulli reconstruction term and the closed-form KL, per shape. */
  loss(batch: ShapeBatch, random: Random): ShapeLoss {
    return tf.tidy(() => {
      const x = batch.voxels;
      const { mean, logVariance } = this.encode(x);
      const epsilon = tf.tensor(random.fork('epsilon').normalArray(mean.size), mean.shape);
      const z = mean.add(tf.exp(logVariance.mul(0.5)).mul(epsilon)) as tf.Tensor2D;
      const labels = this.conditional ? batch.labels!.dataSync() : undefined;
      const logits = this.decodeLogits(z, labels);
      // −log p = max(l, 0) − l·x + log(1 + e^−|l|), the stable binary cross-entropy.
      const perVoxel = tf.relu(logits).sub(logits.mul(x)).add(tf.log1p(tf.exp(tf.abs(logits).neg())));
      const reconstruction = perVoxel.sum([1, 2, 3, 4]).mean() as tf.Scalar;
      const kl = mean.square().add(tf.exp(logVariance)).sub(1).sub(logVariance).sum(1).mul(0.5).mean() as tf.Scalar;
      const total = reconstruction.add(kl.mul(this.config.beta)) as tf.Scalar;
      return { total, parts: { reconstruction, kl } };
    });
  }

  /** Decoded grids of z ~ N(0, I) drawn from `random`. */
  sample(count: number, random: Random, labels?: ArrayLike<number>): Voxels {
    return tf.tidy(() => this.decode(tf.tensor2d(random.normalArray(count * this.latentDim), [count, this.latentDim]), labels));
  }

  private oneHot(labels: ArrayLike<number> | undefined, count: number): tf.Tensor2D {
    const classes = this.config.classes;
    if (!labels || labels.length !== count) throw new GenloomError('BAD_ARGUMENT', `this shape model is conditional: give one label (0..${classes - 1}) per shape`);
    checkLabels(labels, classes);
    return tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), classes).toFloat() as tf.Tensor2D;
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

/** Throws a clear error for a label outside 0..classes−1. */
export function checkLabels(labels: ArrayLike<number>, classes: number): void {
  for (const label of Array.from(labels)) {
    if (!(Number.isInteger(label) && label >= 0 && label < classes)) {
      throw new GenloomError('BAD_ARGUMENT', `label ${label} is out of range: this model knows labels 0..${classes - 1}`);
    }
  }
}
