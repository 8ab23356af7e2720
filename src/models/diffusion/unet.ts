/**
 * A small U-Net denoiser (Ronneberger et al. 2015, as adapted by Ho et al. 2020): residual blocks
 * with group norm and SiLU that take a sinusoidal time embedding (plus a class embedding for
 * conditional models), 3×3 stride-2 downsampling, nearest-neighbour upsampling, skip connections,
 * and single-head self-attention at the lowest resolution. Groundwork for the diffusion family: the
 * network only, apart from schedules and samplers.
 *
 * Labels: class index `classes` is the "no label" embedding that classifier-free guidance trains
 * with (label dropout) and samples with.
 *
 * Text (Stable Diffusion's conditioning, Rombach et al. 2022): with a contextDim, every residual
 * block from level `crossAttentionFrom` down, and the middle, is followed by cross-attention to the
 * text encoder's per-token states, and the pooled text embedding is added to the time embedding.
 */
import * as tf from '../../core/tf.ts';
import { ParamBuilder, disposeParams, type Params } from '../../core/params.ts';
import type { Random } from '../../core/random.ts';
import { addDense, convolve, dense } from '../../layers/dense-conv.ts';
import { timeEmbedding } from '../../layers/time-embedding.ts';
import { groupNorm as groupNormOp } from '../../layers/ops.ts';
import { addCrossAttention, crossAttention, type TextContext } from '../../layers/cross-attention.ts';

export interface UNetConfig {
  imageHeight: number;
  imageWidth: number;
  channels: number;
  /** 0: unconditional. */
  classes: number;
  /** Channels at full resolution; level i has baseChannels · channelMultipliers[i]. */
  baseChannels: number;
  channelMultipliers: number[];
  groups: number;
  /**
   * Side of the square patches folded into channels before the first layer and unfolded after the
   * last (space-to-depth). 2 runs the whole U-Net at half resolution: about 4× fewer operations,
   * which is what makes 28×28 training practical on a CPU.
   */
  patchSize: number;
  /** Text conditioning: the width of the text encoder's token states (0 or absent: none). */
  contextDim?: number;
  /** The width of its pooled embedding, added to the time embedding through a dense layer. */
  pooledDim?: number;
  /** Heads of each cross-attention block. */
  attentionHeads?: number;
  /** The first level (0: full resolution) whose blocks attend to the text; the middle always does. */
  crossAttentionFrom?: number;
}

export class UNet {
  readonly params: Params;
  private readonly levelChannels: number[];
  private readonly embedDim: number;

  constructor(readonly config: UNetConfig, random: Random) {
    const { channels, classes, baseChannels, channelMultipliers } = config;
    this.levelChannels = channelMultipliers.map((m) => baseChannels * m);
    this.embedDim = 4 * baseChannels;
    const b = new ParamBuilder(random);
    addDense(b, 'time.0', baseChannels, this.embedDim);
    addDense(b, 'time.1', this.embedDim, this.embedDim);
    if (classes > 0) b.weight('label.embedding', [classes + 1, this.embedDim], 1, 1);
    const contextDim = config.contextDim ?? 0;
    if (contextDim > 0) addDense(b, 'pooled.project', config.pooledDim!, this.embedDim);
    const cross = (name: string, level: number | 'mid', width: number) => {
      if (contextDim > 0 && (level === 'mid' || level >= (config.crossAttentionFrom ?? 0))) addCrossAttention(b, name, width, contextDim);
    };
    const patchChannels = channels * config.patchSize ** 2;
    addConv(b, 'in', 3, patchChannels, baseChannels);
    let current = baseChannels;
    const skips: number[] = [];
    this.levelChannels.forEach((width, level) => {
      this.addResBlock(b, `down${level}.res`, current, width);
      cross(`down${level}.cross`, level, width);
      current = width;
      skips.push(width);
      if (level < this.levelChannels.length - 1) addConv(b, `down${level}.downsample`, 3, width, width);
    });
    this.addResBlock(b, 'mid.res0', current, current);
    addGroupNorm(b, 'mid.attention.norm', current);
    addDense(b, 'mid.attention.qkv', current, 3 * current);
    addDense(b, 'mid.attention.out', current, current, 0);
    cross('mid.cross', 'mid', current);
    this.addResBlock(b, 'mid.res1', current, current);
    [...this.levelChannels].reverse().forEach((width, reversed) => {
      const level = this.levelChannels.length - 1 - reversed;
      this.addResBlock(b, `up${level}.res`, current + skips[level]!, width);
      cross(`up${level}.cross`, level, width);
      current = width;
      if (level > 0) addConv(b, `up${level}.upsample`, 3, width, width);
    });
    addGroupNorm(b, 'out.norm', current);
    // Zero-initialised output: the untrained network predicts 0, a stable start.
    b.constant('out.weight', [3, 3, current, patchChannels]);
    b.constant('out.bias', [patchChannels]);
    this.params = b.params;
  }

  private addResBlock(b: ParamBuilder, name: string, inChannels: number, outChannels: number): void {
    addGroupNorm(b, `${name}.norm0`, inChannels);
    addConv(b, `${name}.conv0`, 3, inChannels, outChannels);
    addDense(b, `${name}.time`, this.embedDim, outChannels);
    addGroupNorm(b, `${name}.norm1`, outChannels);
    addConv(b, `${name}.conv1`, 3, outChannels, outChannels, 0.1);
    if (inChannels !== outChannels) addConv(b, `${name}.skip`, 1, inChannels, outChannels, 1);
  }

  get textConditioned(): boolean {
    return (this.config.contextDim ?? 0) > 0;
  }

  /**
   * x_t [B, H, W, C], integer steps t [B], labels [B] (index `classes` = none) and, for a
   * text-conditioned network, the text context (the empty caption's for "none") → prediction [B, H, W, C].
   */
  apply(x: tf.Tensor4D, steps: ArrayLike<number>, labels: ArrayLike<number> | null, text?: TextContext): tf.Tensor4D {
    return tf.tidy(() => {
      const p = this.params;
      const groups = this.config.groups;
      let embedding = timeEmbedding(steps, this.config.baseChannels);
      embedding = dense(p, 'time.1', tf.mul(tf.sigmoid(dense(p, 'time.0', embedding)), dense(p, 'time.0', embedding)) as tf.Tensor2D);
      if (this.config.classes > 0) {
        const given = labels ?? new Array<number>(x.shape[0]).fill(this.config.classes);
        const oneHot = tf.oneHot(tf.tensor1d(Array.from(given), 'int32'), this.config.classes + 1).toFloat() as tf.Tensor2D;
        embedding = tf.add(embedding, tf.matMul(oneHot, p['label.embedding'] as tf.Tensor2D));
      }
      if (this.textConditioned && !text) throw new Error('a text-conditioned U-Net needs the text context (the empty caption\'s for none)');
      if (text) embedding = tf.add(embedding, dense(p, 'pooled.project', text.pooled));
      const heads = this.config.attentionHeads ?? 4;
      const attend = (name: string, h: tf.Tensor4D): tf.Tensor4D => (text && p[`${name}.query.weight`] ? crossAttention(p, name, h, text, heads, groups) : h);
      const resBlock = (name: string, h: tf.Tensor4D): tf.Tensor4D => {
        let out = convolve(p, `${name}.conv0`, groupNorm(p, `${name}.norm0`, h, groups, true));
        const timeShift = dense(p, `${name}.time`, silu(embedding) as tf.Tensor2D);
        out = tf.add(out, timeShift.reshape([timeShift.shape[0], 1, 1, -1])) as tf.Tensor4D;
        out = convolve(p, `${name}.conv1`, groupNorm(p, `${name}.norm1`, out, groups, true));
        const skip = p[`${name}.skip.weight`] ? convolve(p, `${name}.skip`, h) : h;
        return tf.add(skip, out) as tf.Tensor4D;
      };
      let h = convolve(p, 'in', spaceToDepth(x, this.config.patchSize));
      const skips: tf.Tensor4D[] = [];
      this.levelChannels.forEach((_, level) => {
        h = attend(`down${level}.cross`, resBlock(`down${level}.res`, h));
        skips.push(h);
        if (level < this.levelChannels.length - 1) h = convolve(p, `down${level}.downsample`, h, 2);
      });
      h = resBlock('mid.res0', h);
      h = attention(p, 'mid.attention', h, groups);
      h = attend('mid.cross', h);
      h = resBlock('mid.res1', h);
      for (let level = this.levelChannels.length - 1; level >= 0; level--) {
        const skip = skips[level]!;
        if (h.shape[1] !== skip.shape[1] || h.shape[2] !== skip.shape[2]) {
          h = convolve(p, `up${level + 1}.upsample`, tf.image.resizeNearestNeighbor(h, [skip.shape[1], skip.shape[2]]));
        }
        h = attend(`up${level}.cross`, resBlock(`up${level}.res`, tf.concat([h, skip], 3)));
      }
      const out = convolve(p, 'out', groupNorm(p, 'out.norm', h, groups, true));
      return depthToSpace(out, this.config.patchSize);
    });
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

/** [B, H, W, C] → [B, H/s, W/s, s·s·C]: each s×s patch becomes one pixel's channels. */
export function spaceToDepth(x: tf.Tensor4D, size: number): tf.Tensor4D {
  if (size === 1) return x;
  const [batch, height, width, channels] = x.shape;
  return x
    .reshape([batch, height / size, size, width / size, size, channels])
    .transpose([0, 1, 3, 2, 4, 5])
    .reshape([batch, height / size, width / size, size * size * channels]);
}

/** The inverse of spaceToDepth. */
export function depthToSpace(x: tf.Tensor4D, size: number): tf.Tensor4D {
  if (size === 1) return x;
  const [batch, height, width, depth] = x.shape;
  const channels = depth / (size * size);
  return x
    .reshape([batch, height, width, size, size, channels])
    .transpose([0, 1, 3, 2, 4, 5])
    .reshape([batch, height * size, width * size, channels]);
}

function addConv(b: ParamBuilder, name: string, size: number, inChannels: number, outChannels: number, gain?: number): void {
  b.weight(`${name}.weight`, [size, size, inChannels, outChannels], size * size * inChannels, gain);
  b.constant(`${name}.bias`, [outChannels]);
}

function addGroupNorm(b: ParamBuilder, name: string, channels: number): void {
  b.constant(`${name}.scale`, [channels], 1);
  b.constant(`${name}.shift`, [channels]);
}

/** Group norm with this layer's scale and shift, and SiLU after it where `silu`. */
function groupNorm(p: Params, name: string, x: tf.Tensor4D, groups: number, silu: boolean): tf.Tensor4D {
  return groupNormOp(x, p[`${name}.scale`] as tf.Tensor1D, p[`${name}.shift`] as tf.Tensor1D, groups, silu);
}

function silu<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(x)) as T;
}

/** Single-head self-attention over the pixels, with a residual connection. */
function attention(p: Params, name: string, x: tf.Tensor4D, groups: number): tf.Tensor4D {
  const [batch, height, width, channels] = x.shape;
  const tokens = groupNorm(p, `${name}.norm`, x, groups, false).reshape([batch * height * width, channels]) as tf.Tensor2D;
  const qkv = dense(p, `${name}.qkv`, tokens).reshape([batch, height * width, 3 * channels]);
  const [q, k, v] = tf.split(qkv, 3, 2) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
  const weights = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(channels)));
  const mixed = tf.matMul(weights, v).reshape([batch * height * width, channels]) as tf.Tensor2D;
  return tf.add(x, dense(p, `${name}.out`, mixed).reshape([batch, height, width, channels])) as tf.Tensor4D;
}
