/**
 * Cross-attention from image positions to text tokens, as in Stable Diffusion's U-Net (Rombach et
 * al. 2022, §3.3): queries from the group-normed feature map, keys and values from the text
 * encoder's per-token states, several heads, padding tokens masked out, and a zero-initialised
 * output projection so an untrained block is the identity.
 *
 *   Attention(Q, K, V) = softmax(Q·Kᵀ/√d)·V,   Q = W_Q·φ(z_t),  K = W_K·τ(y),  V = W_V·τ(y)
 */
import * as tf from '../core/tf.ts';
import type { ParamBuilder, Params } from '../core/params.ts';
import { addDense, dense } from './dense-conv.ts';
import { groupNorm } from './ops.ts';

/** Text states as the U-Net reads them: per-token [B, T, D], which tokens are real [B, T] (1) or padding (0), and a pooled vector [B, E]. */
export interface TextContext {
  states: tf.Tensor3D;
  mask: tf.Tensor2D;
  pooled: tf.Tensor2D;
}

export function addCrossAttention(b: ParamBuilder, name: string, channels: number, contextDim: number): void {
  b.constant(`${name}.norm.scale`, [channels], 1);
  b.constant(`${name}.norm.shift`, [channels]);
  addDense(b, `${name}.query`, channels, channels);
  addDense(b, `${name}.key`, contextDim, channels);
  addDense(b, `${name}.value`, contextDim, channels);
  addDense(b, `${name}.out`, channels, channels, 0);
}

/** x [B, H, W, C] attends to the context's tokens; returns x plus the attended values [B, H, W, C]. */
export function crossAttention(p: Params, name: string, x: tf.Tensor4D, context: Pick<TextContext, 'states' | 'mask'>, heads: number, groups: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [batch, height, width, channels] = x.shape;
    const [, length, contextDim] = context.states.shape;
    const headDim = channels / heads;
    const positions = height * width;
    const normed = groupNorm(x, p[`${name}.norm.scale`] as tf.Tensor1D, p[`${name}.norm.shift`] as tf.Tensor1D, groups, false);
    const split = (t: tf.Tensor2D, rows: number) => t.reshape([batch, rows, heads, headDim]).transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, heads, rows, d]
    const q = split(dense(p, `${name}.query`, normed.reshape([batch * positions, channels])), positions);
    const flatContext = context.states.reshape([batch * length, contextDim]) as tf.Tensor2D;
    const k = split(dense(p, `${name}.key`, flatContext), length);
    const v = split(dense(p, `${name}.value`, flatContext), length);
    const padding = tf.mul(tf.sub(context.mask, 1), 1e9).reshape([batch, 1, 1, length]); // 0 for tokens, −1e9 for padding
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(headDim)), padding); // [B, heads, HW, T]
    const mixed = tf.matMul(tf.softmax(scores), v).transpose([0, 2, 1, 3]).reshape([batch * positions, channels]) as tf.Tensor2D; // [B·HW, C]
    return tf.add(x, dense(p, `${name}.out`, mixed).reshape([batch, height, width, channels])) as tf.Tensor4D;
  });
}
