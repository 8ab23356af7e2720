/**
 * A small 3-D U-Net denoiser of patch convolutions (voxel-layers.ts): the grid goes down by 2³
 * patch convs (one per level of `channels`), through a 3³ conv at the bottleneck, and back up by
 * transposed patch convs, with skip connections at every level. Each level has a residual block of
 * 1³ convs that takes a sinusoidal time embedding (and a label embedding for conditional models);
 * a last full-resolution stage sees the noisy input again, so the output is not limited to what
 * survives the first patch conv.
 *
 * Labels: index `classes` is the "no label" embedding that classifier-free guidance trains with
 * (label dropout) and samples with.
 */
import * as tf from '../../core/tf.ts';
import { ParamBuilder, disposeParams, type Params } from '../../core/params.ts';
import type { Random } from '../../core/random.ts';
import { addDense, dense } from '../../layers/dense-conv.ts';
import { timeEmbedding } from '../../layers/time-embedding.ts';
import type { ShapeConfig } from './config.ts';
import { addMix3, addPatchDown, addPatchUp, addPointwise, channelNorm, mix3, patchDown, patchUp, pointwise, type Voxels } from './voxel-layers.ts';

const silu = <T extends tf.Tensor>(x: T): T => tf.mul(x, tf.sigmoid(x)) as T;

/** Channels the last patchUp gives the full-resolution stage. */
const outputFeatures = 4;

export class VoxelUNet {
  readonly params: Params;
  private readonly embedDim: number;

  constructor(readonly config: Pick<ShapeConfig, 'channels' | 'classes'>, random: Random) {
    const { channels, classes } = config;
    const base = channels[0]!;
    this.embedDim = 4 * base;
    const b = new ParamBuilder(random);
    addDense(b, 'time.0', base, this.embedDim);
    addDense(b, 'time.1', this.embedDim, this.embedDim);
    if (classes > 0) b.weight('label.embedding', [classes + 1, this.embedDim], 1, 1);
    addPatchDown(b, 'in', 1, base);
    channels.forEach((width, level) => {
      this.addResBlock(b, `down${level}`, width, width);
      if (level < channels.length - 1) addPatchDown(b, `down${level}.downsample`, width, channels[level + 1]!);
    });
    const bottom = channels[channels.length - 1]!;
    addMix3(b, 'mid.mix', bottom, bottom);
    this.addResBlock(b, 'mid.res', bottom, bottom);
    for (let level = channels.length - 1; level >= 0; level--) {
      const width = channels[level]!;
      this.addResBlock(b, `up${level}`, 2 * width, width);
      if (level > 0) addPatchUp(b, `up${level}.upsample`, width, channels[level - 1]!);
    }
    addPatchUp(b, 'out.up', base, outputFeatures);
    addPointwise(b, 'out.0', outputFeatures + 1, 8);
    // Zero-initialised last layer: the untrained network predicts ε = 0, a stable start.
    addPointwise(b, 'out.1', 8, 1, 0);
    this.params = b.params;
  }

  private addResBlock(b: ParamBuilder, name: string, inChannels: number, outChannels: number): void {
    addPointwise(b, `${name}.conv0`, inChannels, outChannels);
    addDense(b, `${name}.time`, this.embedDim, outChannels);
    addPointwise(b, `${name}.conv1`, outChannels, outChannels, 0.5);
    if (inChannels !== outChannels) addPointwise(b, `${name}.skip`, inChannels, outChannels, 1);
  }

  /** h + f(h, embedding), f = conv1(silu(norm(conv0(silu(norm(h))) + time))). */
  private resBlock(name: string, x: Voxels, embedding: tf.Tensor2D): Voxels {
    const p = this.params;
    const count = x.shape[0];
    let h = pointwise(p, `${name}.conv0`, silu(channelNorm(x)));
    const width = h.shape[4];
    h = tf.add(h, dense(p, `${name}.time`, embedding).reshape([count, 1, 1, 1, width])) as Voxels;
    h = pointwise(p, `${name}.conv1`, silu(channelNorm(h)));
    const skip = p[`${name}.skip.weight`] ? pointwise(p, `${name}.skip`, x) : x;
    return tf.add(skip, h) as Voxels;
  }

  /**
   * ε̂(x_t, t, y): noisy voxels [B, r, r, r, 1] in data units, one step per shape (1…T), and one
   * label per shape (`classes` = none) or null for unconditional models → [B, r, r, r, 1].
   */
  apply(x: Voxels, steps: ArrayLike<number>, labels: ArrayLike<number> | null): Voxels {
    return tf.tidy(() => {
      const p = this.params;
      const { channels } = this.config;
      let embedding = dense(p, 'time.1', silu(dense(p, 'time.0', timeEmbedding(steps, channels[0]!))));
      if (labels && this.config.classes > 0) embedding = tf.add(embedding, tf.gather(p['label.embedding']!, tf.tensor1d(Array.from(labels), 'int32'))) as tf.Tensor2D;
      embedding = silu(embedding);

      let h = patchDown(p, 'in', x); // [B, r/2, r/2, r/2, c0]
      const skips: Voxels[] = [];
      channels.forEach((_, level) => {
        h = this.resBlock(`down${level}`, h, embedding);
        skips.push(h);
        if (level < channels.length - 1) h = patchDown(p, `down${level}.downsample`, h);
      });
      // The one layer whose receptive field crosses the patch grid: a 3³ conv at the bottleneck.
      h = tf.add(h, mix3(p, 'mid.mix', silu(channelNorm(h)))) as Voxels;
      h = this.resBlock('mid.res', h, embedding);
      for (let level = channels.length - 1; level >= 0; level--) {
        h = this.resBlock(`up${level}`, tf.concat([h, skips[level]!], 4) as Voxels, embedding);
        if (level > 0) h = patchUp(p, `up${level}.upsample`, h);
      }
      const features = patchUp(p, 'out.up', silu(channelNorm(h))); // [B, r, r, r, 8]
      const full = silu(pointwise(p, 'out.0', tf.concat([features, x], 4) as Voxels));
      return pointwise(p, 'out.1', full);
    });
  }

  dispose(): void {
    disposeParams(this.params);
  }
}
