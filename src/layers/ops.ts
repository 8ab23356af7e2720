/**
 * Building blocks with hand-written gradients (tf.customGrad): GELU, layer norm, softmax
 * cross-entropy and causal self-attention. On a backend with genloom's fused kernels (native),
 * each is one kernel forward and one backward (src/core/native/fused-kernels.ts); elsewhere
 * (wasm, WebGL, WebGPU, cpu) it is composed from tfjs ops, with closed-form backward passes that
 * take about half the kernels autograd would. ops.test.ts checks the fused kernels against the
 * composed ones and both against autograd of the formulas.
 */
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';
import { FusedKernel } from '../core/native/fused-kernels.ts';
import { nativeHost } from '../core/native/host.ts';

type CustomGradient = Parameters<typeof tf.customGrad>[0];

/**
 * Whether the fused kernels are used where the backend has them. Off only to compare the two
 * paths (tests, `GENLOOM_FUSED=0 npm run bench`); the results agree to float rounding.
 */
export const fusion = { enabled: typeof process === 'undefined' || process.env?.['GENLOOM_FUSED'] !== '0' };

/** True when the active backend runs `kernel` as one fused kernel. */
export function hasFusedKernel(kernel: (typeof FusedKernel)[keyof typeof FusedKernel]): boolean {
  return fusion.enabled && tf.getKernel(kernel, tf.getBackend()) !== undefined;
}

/** Runs a fused kernel (from inside a customGrad, so the tape records the customGrad, not it). */
export function runFused(kernel: string, inputs: tf.NamedTensorMap, attrs: Record<string, number | boolean> = {}): tf.Tensor[] {
  const result = tf.engine().runKernel(kernel, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
  return Array.isArray(result) ? result : [result];
}

const GELU_SCALE = Math.sqrt(2 / Math.PI);
const GELU_CUBIC = 0.044715;

/**
 * GELU with the tanh approximation (GPT-2's "gelu_new"): ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³).
 * Computed as x·σ(2u), the same function (1 + tanh(u) = 2σ(2u)), because wasm's Sigmoid is
 * vectorized and its Tanh is not: on [768, 512], 1.7 ms against 12 ms. With s = σ(2u), the
 * derivative is s + x·s(1 − s)·2u′, u′ = √(2/π)(1 + 3·0.044715x²).
 */
const composedGelu = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const square = x.square();
  const s = tf.sigmoid(x.mul(square.mul(GELU_CUBIC).add(1)).mul(2 * GELU_SCALE));
  save([x, square, s]);
  return {
    value: x.mul(s),
    gradFunc: (dy: tf.Tensor, [saved, savedSquare, savedS]: tf.Tensor[]) => {
      const slope = savedSquare!.mul(6 * GELU_CUBIC * GELU_SCALE).add(2 * GELU_SCALE);
      const derivative = savedS!.add(saved!.mul(savedS!.mul(tf.sub(1, savedS!))).mul(slope));
      return [dy.mul(derivative)];
    },
  };
}) as unknown as CustomGradient) as <T extends tf.Tensor>(x: T) => T;

const fusedGelu = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  return { value: runFused(FusedKernel.Gelu, { x })[0]!, gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => runFused(FusedKernel.GeluGrad, { x: saved!, dy }) };
}) as unknown as CustomGradient) as <T extends tf.Tensor>(x: T) => T;

export function gelu<T extends tf.Tensor>(x: T): T {
  return hasFusedKernel(FusedKernel.Gelu) && x.dtype === 'float32' ? fusedGelu(x) : composedGelu(x);
}

/**
 * Layer normalization over the last axis of x [N, D] with gain and (optional) bias [D]. Backward, with
 * x̂ the normalized input and r = 1/√(var + ε): dx = r·(g − mean(g) − x̂·mean(g·x̂)), g = dy·gain.
 */
export function layerNorm(x: tf.Tensor2D, gain: tf.Tensor1D, bias: tf.Tensor1D | undefined, epsilon: number): tf.Tensor2D {
  if (hasFusedKernel(FusedKernel.LayerNorm)) return fusedLayerNorm(x, gain, bias, epsilon);
  const normalize = tf.customGrad(((input: tf.Tensor, scale: tf.Tensor, save: tf.GradSaveFunc) => {
    const { mean, variance } = tf.moments(input, -1, true);
    const reciprocal = tf.rsqrt(variance.add(epsilon));
    const normalized = input.sub(mean).mul(reciprocal);
    save([normalized, reciprocal, scale]);
    return {
      value: normalized.mul(scale),
      gradFunc: (dy: tf.Tensor, [savedNormalized, savedReciprocal, savedScale]: tf.Tensor[]) => {
        const g = dy.mul(savedScale!);
        const dx = g.sub(g.mean(-1, true)).sub(savedNormalized!.mul(g.mul(savedNormalized!).mean(-1, true))).mul(savedReciprocal!);
        return [dx, dy.mul(savedNormalized!).sum(0)];
      },
    };
  }) as unknown as CustomGradient);
  const scaled = (normalize as (input: tf.Tensor, scale: tf.Tensor) => tf.Tensor)(x, gain);
  return (bias ? scaled.add(bias) : scaled) as tf.Tensor2D;
}

/** One kernel for normalize, scale and shift; one for all three gradients. */
function fusedLayerNorm(x: tf.Tensor2D, gain: tf.Tensor1D, bias: tf.Tensor1D | undefined, epsilon: number): tf.Tensor2D {
  const forward = (inputs: tf.NamedTensorMap, save: tf.GradSaveFunc) => {
    const [y, normalized, rstd] = runFused(FusedKernel.LayerNorm, inputs, { epsilon });
    save([normalized!, rstd!, inputs['gain']!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, [savedNormalized, savedRstd, savedGain]: tf.Tensor[]) =>
        runFused(FusedKernel.LayerNormGrad, { dy, normalized: savedNormalized!, rstd: savedRstd!, gain: savedGain! }, { bias: bias !== undefined }),
    };
  };
  const normalize = bias
    ? tf.customGrad(((input: tf.Tensor, scale: tf.Tensor, shift: tf.Tensor, save: tf.GradSaveFunc) => forward({ x: input, gain: scale, bias: shift }, save)) as unknown as CustomGradient)
    : tf.customGrad(((input: tf.Tensor, scale: tf.Tensor, save: tf.GradSaveFunc) => forward({ x: input, gain: scale }, save)) as unknown as CustomGradient);
  return (normalize as (...inputs: tf.Tensor[]) => tf.Tensor)(...(bias ? [x, gain, bias] : [x, gain])) as tf.Tensor2D;
}

/**
 * Group normalisation (Wu & He 2018) of x [B, H, W, C]: statistics over each image's pixels and a
 * group of C/groups channels, then scale and shift per channel, and with `silu`, x·σ(x) after it
 * (the U-Net's every norm is followed by one). Fused: one kernel each way; composed: tfjs ops
 * under autograd.
 */
export function groupNorm(x: tf.Tensor4D, scale: tf.Tensor1D, shift: tf.Tensor1D, groups: number, silu: boolean, epsilon = 1e-5): tf.Tensor4D {
  const [batch, height, width, channels] = x.shape;
  const g = Math.min(groups, channels);
  if (hasFusedKernel(FusedKernel.GroupNorm) && channels % g === 0) {
    const attrs = { groups: g, silu, epsilon };
    const normalize = tf.customGrad(((input: tf.Tensor, gain: tf.Tensor, offset: tf.Tensor, save: tf.GradSaveFunc) => {
      const [y, normalized, rstd] = runFused(FusedKernel.GroupNorm, { x: input, scale: gain, shift: offset }, attrs);
      save([normalized!, rstd!, gain, offset]);
      return {
        value: y!,
        gradFunc: (dy: tf.Tensor, [savedNormalized, savedRstd, savedScale, savedShift]: tf.Tensor[]) =>
          runFused(FusedKernel.GroupNormGrad, { dy, normalized: savedNormalized!, rstd: savedRstd!, scale: savedScale!, shift: savedShift! }, attrs),
      };
    }) as unknown as CustomGradient);
    return (normalize as (...inputs: tf.Tensor[]) => tf.Tensor)(x, scale, shift) as tf.Tensor4D;
  }
  const grouped = x.reshape([batch, height * width, g, channels / g]);
  const { mean, variance } = tf.moments(grouped, [1, 3], true);
  const normalized = tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, epsilon))).reshape([batch, height, width, channels]);
  const shifted = tf.add(tf.mul(normalized, scale), shift) as tf.Tensor4D;
  return silu ? (tf.mul(shifted, tf.sigmoid(shifted)) as tf.Tensor4D) : shifted;
}

/**
 * Mean cross-entropy of logits [N, V] against integer targets [N]: mean(logsumexp − logit[target]).
 * Backward: (softmax − onehot) / N.
 */
export function crossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar {
  const [count, vocabulary] = logits.shape;
  if (hasFusedKernel(FusedKernel.SoftmaxCrossEntropy) && targets.dtype === 'int32') {
    const loss = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
      const [value, probabilities] = runFused(FusedKernel.SoftmaxCrossEntropy, { logits: input, targets });
      save([probabilities!]);
      return { value: value!, gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => runFused(FusedKernel.SoftmaxCrossEntropyGrad, { probabilities: saved!, targets, dy }) };
    }) as unknown as CustomGradient);
    return (loss as (input: tf.Tensor) => tf.Tensor)(logits) as tf.Scalar;
  }
  const loss = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    const logProbabilities = tf.logSoftmax(input);
    const onehot = tf.oneHot(targets, vocabulary);
    save([logProbabilities, onehot]);
    return {
      value: tf.neg(tf.sum(logProbabilities.mul(onehot))).div(count),
      gradFunc: (dy: tf.Tensor, [savedLogProbabilities, savedOnehot]: tf.Tensor[]) => [tf.exp(savedLogProbabilities!).sub(savedOnehot!).mul(dy.div(count))],
    };
  }) as unknown as CustomGradient);
  return (loss as (input: tf.Tensor) => tf.Tensor)(logits) as tf.Scalar;
}

/**
 * Causal multi-head self-attention as one fused kernel, from the joint projection qkv
 * [batch·length, 3·dim] (queries, keys, values; heads side by side in each) to the merged heads
 * [batch·length, dim]: softmax(QKᵀ/√d + causal mask)·V. Only where hasFusedKernel(CausalAttention):
 * the GPT composes the same thing (and the KV cache, rotary positions, dropout of the
 * probabilities) from tfjs ops elsewhere.
 */
export function fusedCausalAttention(qkv: tf.Tensor2D, batch: number, length: number, heads: number): tf.Tensor2D {
  if (!hasFusedKernel(FusedKernel.CausalAttention)) throw new GenloomError('UNSUPPORTED', `the ${tf.getBackend()} backend has no fused attention kernel`);
  const attrs = { batch, length, heads };
  const attend = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    const [output, logsumexp] = runFused(FusedKernel.CausalAttention, { qkv: input }, attrs);
    save([input, output!, logsumexp!]);
    return {
      value: output!,
      gradFunc: (dy: tf.Tensor, [savedQkv, savedOutput, savedLogsumexp]: tf.Tensor[]) =>
        runFused(FusedKernel.CausalAttentionGrad, { qkv: savedQkv!, out: savedOutput!, dy, logsumexp: savedLogsumexp! }, attrs),
    };
  }) as unknown as CustomGradient);
  return (attend as (input: tf.Tensor) => tf.Tensor)(qkv) as tf.Tensor2D;
}

/** A KV cache in host memory for cachedAttention: per layer [batch, heads, capacity, headDim]. */
export interface HostKvCache {
  keys: Float32Array[];
  values: Float32Array[];
  batch: number;
  capacity: number;
}

/** A host KV cache for generation on native, or null where the backend has none. */
export function newHostKvCache(layers: number, batch: number, heads: number, capacity: number, headDim: number): HostKvCache | null {
  if (!fusion.enabled || !nativeHost()) return null;
  const size = batch * heads * capacity * headDim;
  return { keys: Array.from({ length: layers }, () => new Float32Array(size)), values: Array.from({ length: layers }, () => new Float32Array(size)), batch, capacity };
}

/**
 * Generation's attention on native: the new tokens' keys and values (from qkv [batch·length,
 * 3·dim]) go into the layer's host cache at `start`, and each new query attends to the cached
 * positions up to its own; merged heads [batch·length, dim]. One call instead of the composed
 * path's ~20 kernels and its copy of the whole cache per token. No gradient.
 */
export function cachedAttention(qkv: tf.Tensor2D, cache: HostKvCache, layer: number, length: number, heads: number, start: number): tf.Tensor2D {
  const host = nativeHost();
  if (!host) throw new GenloomError('UNSUPPORTED', `the ${tf.getBackend()} backend has no host KV cache`);
  const dim = qkv.shape[1] / 3, headDim = dim / heads;
  const out = host.alloc(cache.batch * length * dim);
  host.addon.cachedAttention(host.values(qkv), cache.keys[layer]!, cache.values[layer]!, out, cache.batch, length, heads, headDim, start, cache.capacity, 1 / Math.sqrt(headDim));
  return tf.tensor2d(out, [cache.batch * length, dim]);
}
