/**
 * A decoder-only transformer (GPT-2's architecture): token embeddings, then `layers` pre-LayerNorm
 * blocks of causal multi-head self-attention and a GELU MLP, each added back to the residual
 * stream, a final LayerNorm, and logits over the vocabulary (by default through the transposed
 * token embedding: weight tying).
 *
 * Speed on tfjs-wasm (see ../shared/PERF-NOTES.md): the model works on [B·T, D] matrices so every
 * linear layer is one plain 2-D product, and heads are split with a reshape and one 4-D transpose
 * ([B, T, H, d] → [B, H, T, d]); a 5-D transpose is never taken.
 *
 * The KV cache: with `cache`, the tokens given are the continuation of those the cache holds; their
 * keys and values are appended and attention runs over all of them, so one new token costs one
 * row of work per layer instead of a pass over the whole prefix.
 */
import * as tf from '../../core/tf.ts';
import { ParamBuilder, disposeParams, type Params } from '../../core/params.ts';
import type { Random } from '../../core/random.ts';
import type { TransformerConfig } from './config.ts';
import { cachedAttention, crossEntropy, fusedCausalAttention, gelu, hasFusedKernel, layerNorm, newHostKvCache, type HostKvCache } from '../../layers/ops.ts';
import { FusedKernel } from '../../core/native/fused-kernels.ts';

/** Keys and values of the tokens seen so far, per layer: [B, heads, length, headDim]. */
export interface KvCache {
  keys: (tf.Tensor4D | null)[];
  values: (tf.Tensor4D | null)[];
  length: number;
  /** On native, the same in host arrays the attention kernel writes in place (then keys/values stay empty). */
  host?: HostKvCache | null;
}

export interface ForwardOptions {
  cache?: KvCache;
  /** Training only: the randomness of dropout (none without it). */
  dropoutRandom?: Random;
  /** Receives each layer's attention probabilities [B, heads, T, keys] (kept: the caller disposes them). */
  attention?: tf.Tensor4D[];
}

export type TokenBatch = {
  inputs: tf.Tensor2D;
  targets: tf.Tensor2D;
};

const MASKED = -1e9;

export class Gpt {
  readonly params: Params;
  readonly headDim: number;
  private readonly masks = new Map<string, tf.Tensor2D>();
  /** cos and sin of RoPE's angles at every position, made on first use. */
  private rotary: { cos: tf.Tensor2D; sin: tf.Tensor2D } | null = null;

  constructor(readonly config: TransformerConfig, random: Random) {
    const { vocabularySize, context, layers, dim, mlpRatio, bias, tieWeights, positions } = config;
    this.headDim = dim / config.heads;
    const builder = new ParamBuilder(random);
    // GPT-2's init: N(0, 0.02), with the projections into the residual stream scaled by 1/√(2·layers)
    // so the stream's variance does not grow with depth.
    const std = 0.02;
    const residualStd = std / Math.sqrt(2 * layers);
    builder.normal('tokenEmbedding', [vocabularySize, dim], std);
    if (positions === 'learned') builder.normal('positionEmbedding', [context, dim], std);
    const addLinear = (name: string, inputs: number, outputs: number, scale: number) => {
      builder.normal(`${name}.weight`, [inputs, outputs], scale);
      if (bias) builder.constant(`${name}.bias`, [outputs]);
    };
    const addNorm = (name: string) => {
      builder.constant(`${name}.weight`, [dim], 1);
      if (bias) builder.constant(`${name}.bias`, [dim]);
    };
    for (let layer = 0; layer < layers; layer++) {
      const block = `blocks.${layer}`;
      addNorm(`${block}.attentionNorm`);
      addLinear(`${block}.attention.qkv`, dim, 3 * dim, std);
      addLinear(`${block}.attention.out`, dim, dim, residualStd);
      addNorm(`${block}.mlpNorm`);
      addLinear(`${block}.mlp.in`, dim, mlpRatio * dim, std);
      addLinear(`${block}.mlp.out`, mlpRatio * dim, dim, residualStd);
    }
    addNorm('finalNorm');
    if (!tieWeights) addLinear('head', dim, vocabularySize, std);
    this.params = builder.params;
  }

  /** tokens [B, T] (int32) → logits [B, T, vocabularySize]. */
  forward(tokens: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor3D {
    const [batch, length] = tokens.shape;
    const normed = this.hiddenStates(tokens, options);
    const p = this.params;
    const logits = this.config.tieWeights ? tf.matMul(normed, p['tokenEmbedding']!, false, true) : this.linear(normed, 'head');
    return logits.reshape([batch, length, this.config.vocabularySize]);
  }

  /**
   * tokens [B, T] (int32) → the final LayerNorm's output [B·T, dim], row b·T + t for token t of
   * sequence b: what the logits are read from, and what a text encoder (CLIP's) reads its features from.
   */
  hiddenStates(tokens: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor2D {
    const { cache, dropoutRandom } = options;
    const { dim, context } = this.config;
    const [batch, length] = tokens.shape;
    const start = cache?.length ?? 0;
    if (start + length > context) {
      throw new RangeError(`the model sees at most ${context} tokens; got ${start + length} (${start} cached)`);
    }
    const p = this.params;
    let x = tf.gather(p['tokenEmbedding']!, tokens.reshape([batch * length])) as tf.Tensor2D;
    if (this.config.positions === 'learned') {
      const positions = tf.slice(p['positionEmbedding']!, [start, 0], [length, dim]);
      x = x.reshape([batch, length, dim]).add(positions).reshape([batch * length, dim]);
    }
    x = this.dropout(x, dropoutRandom, 'embedding');
    for (let layer = 0; layer < this.config.layers; layer++) {
      const block = `blocks.${layer}`;
      const attended = this.attention(this.layerNorm(x, `${block}.attentionNorm`), layer, batch, length, start, options);
      x = x.add(this.dropout(attended, dropoutRandom, `${block}.attention`));
      const hidden = gelu(this.linear(this.layerNorm(x, `${block}.mlpNorm`), `${block}.mlp.in`));
      x = x.add(this.dropout(this.linear(hidden, `${block}.mlp.out`), dropoutRandom, `${block}.mlp`));
    }
    if (cache) cache.length = start + length;
    return this.layerNorm(x, 'finalNorm');
  }

  /** Mean cross-entropy of predicting each target token, in nats. */
  crossEntropy(batch: TokenBatch, dropoutRandom?: Random): tf.Scalar {
    const logits = this.forward(batch.inputs, { dropoutRandom });
    return crossEntropy(logits.reshape([-1, this.config.vocabularySize]), batch.targets.reshape([-1]));
  }

  newCache(): KvCache {
    return { keys: new Array(this.config.layers).fill(null), values: new Array(this.config.layers).fill(null), length: 0 };
  }

  dispose(): void {
    disposeParams(this.params);
    for (const mask of this.masks.values()) mask.dispose();
    if (this.rotary) tf.dispose([this.rotary.cos, this.rotary.sin]);
  }

  private attention(x: tf.Tensor2D, layer: number, batch: number, length: number, start: number, options: ForwardOptions): tf.Tensor2D {
    const { heads, dim } = this.config;
    const block = `blocks.${layer}.attention`;
    const qkv = this.linear(x, `${block}.qkv`);
    // The fused kernel covers attention over the tokens given, with learned positions and no
    // dropout of the probabilities; the cache, rotary positions, attention maps and dropout take
    // the composed path below.
    const cache = options.cache;
    // Generation on native: a host cache written in place by one kernel per layer. A cache the
    // composed path has started (it holds tensors) stays on that path.
    if (cache && !options.attention && this.config.positions === 'learned' && cache.keys[layer] === null) {
      if (cache.host === undefined) cache.host = start === 0 ? newHostKvCache(this.config.layers, batch, heads, this.config.context, this.headDim) : null;
      if (cache.host && cache.host.batch === batch) return this.linear(cachedAttention(qkv, cache.host, layer, length, heads, start), `${block}.out`);
    }
    const dropsProbabilities = options.dropoutRandom !== undefined && this.config.dropout > 0;
    if (!cache && !options.attention && !dropsProbabilities && this.config.positions === 'learned' && hasFusedKernel(FusedKernel.CausalAttention)) {
      return this.linear(fusedCausalAttention(qkv, batch, length, heads), `${block}.out`);
    }
    // [B·T, D] → [B, H, T, d]: a reshape and one 4-D transpose per projection.
    const split = (part: number) => tf.slice(qkv, [0, part * dim], [batch * length, dim]).reshape([batch, length, heads, this.headDim]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
    let query = split(0);
    let key = split(1);
    let value = split(2);
    if (this.config.positions === 'rotary') {
      query = this.rotate(query, start);
      key = this.rotate(key, start);
    }
    if (cache) {
      const previousKeys = cache.keys[layer];
      const previousValues = cache.values[layer];
      if (previousKeys && previousValues) {
        key = tf.concat([previousKeys, key], 2);
        value = tf.concat([previousValues, value], 2);
      }
      cache.keys[layer] = tf.keep(key);
      cache.values[layer] = tf.keep(value);
      previousKeys?.dispose();
      previousValues?.dispose();
    }
    const keyCount = start + length;
    const groups = batch * heads;
    let scores = tf.matMul(query.reshape([groups, length, this.headDim]), key.reshape([groups, keyCount, this.headDim]), false, true).mul(1 / Math.sqrt(this.headDim));
    // One new token (generation with the cache) may see every key: no mask to add.
    if (length > 1) scores = scores.add(this.causalMask(length, start));
    let probabilities = tf.softmax(scores) as tf.Tensor3D;
    if (options.attention) options.attention.push(tf.keep(probabilities.reshape([batch, heads, length, keyCount])));
    probabilities = this.dropout(probabilities, options.dropoutRandom, `${block}.probabilities`);
    const mixed = tf.matMul(probabilities, value.reshape([groups, keyCount, this.headDim]));
    const merged = mixed.reshape([batch, heads, length, this.headDim]).transpose([0, 2, 1, 3]).reshape([batch * length, dim]) as tf.Tensor2D;
    return this.linear(merged, `${block}.out`);
  }

  /** [T, start + T]: 0 where query i (at position start + i) may see key j (j ≤ start + i), else −1e9. */
  private causalMask(length: number, start: number): tf.Tensor2D {
    const key = `${length}:${start}`;
    let mask = this.masks.get(key);
    if (!mask) {
      const keys = start + length;
      const values = new Float32Array(length * keys);
      for (let i = 0; i < length; i++) for (let j = start + i + 1; j < keys; j++) values[i * keys + j] = MASKED;
      mask = tf.keep(tf.tensor2d(values, [length, keys]));
      // Generation makes one mask per position; keep the cache from growing without bound.
      if (this.masks.size > 4 * this.config.context) this.clearMasks();
      this.masks.set(key, mask);
    }
    return mask;
  }

  private clearMasks(): void {
    for (const mask of this.masks.values()) mask.dispose();
    this.masks.clear();
  }

  /** RoPE (Su et al. 2021): pairs (x_i, x_{i+d/2}) rotated by position · 10000^(−2i/d). */
  private rotate(x: tf.Tensor4D, start: number): tf.Tensor4D {
    const length = x.shape[2];
    const { cos, sin } = this.rotaryTable();
    const half = this.headDim / 2;
    const cosAt = tf.slice(cos, [start, 0], [length, this.headDim]);
    const sinAt = tf.slice(sin, [start, 0], [length, this.headDim]);
    const first = tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, half]);
    const second = tf.slice(x, [0, 0, 0, half], [-1, -1, -1, half]);
    const rotated = tf.concat([tf.neg(second), first], 3);
    return x.mul(cosAt).add(rotated.mul(sinAt));
  }

  private rotaryTable(): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
    if (!this.rotary) {
      const { context } = this.config;
      const half = this.headDim / 2;
      const cos = new Float32Array(context * this.headDim);
      const sin = new Float32Array(context * this.headDim);
      for (let position = 0; position < context; position++) {
        for (let i = 0; i < half; i++) {
          const angle = position * 10000 ** (-(2 * i) / this.headDim);
          for (const column of [i, i + half]) {
            cos[position * this.headDim + column] = Math.cos(angle);
            sin[position * this.headDim + column] = Math.sin(angle);
          }
        }
      }
      this.rotary = { cos: tf.keep(tf.tensor2d(cos, [context, this.headDim])), sin: tf.keep(tf.tensor2d(sin, [context, this.headDim])) };
    }
    return this.rotary;
  }

  /** x·W + b as one fused product (the bias added while the output tile is in cache). */
  private linear(x: tf.Tensor2D, name: string): tf.Tensor2D {
    return tf.fused.matMul({ a: x, b: this.params[`${name}.weight`] as tf.Tensor2D, bias: this.params[`${name}.bias`] }) as tf.Tensor2D;
  }

  private layerNorm(x: tf.Tensor2D, name: string): tf.Tensor2D {
    return layerNorm(x, this.params[`${name}.weight`] as tf.Tensor1D, this.params[`${name}.bias`] as tf.Tensor1D | undefined, this.config.layerNormEpsilon);
  }

  private dropout<T extends tf.Tensor>(x: T, random: Random | undefined, site: string): T {
    const rate = this.config.dropout;
    if (!random || rate === 0) return x;
    const uniforms = random.fork(site).uniformArray(x.size);
    const keep = new Float32Array(x.size);
    for (let i = 0; i < keep.length; i++) keep[i] = uniforms[i]! >= rate ? 1 / (1 - rate) : 0;
    return x.mul(tf.tensor(keep, x.shape)) as T;
  }
}
