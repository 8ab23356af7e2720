/**
 * 3-D convolutions for voxel grids [B, D, H, W, C] (NDHWC), written as reshapes and matrix
 * products because tf.conv3d is about 100× too slow here: the native backend falls back to tfjs's
 * cpu kernel for Conv3D, and a 16→32-channel, kernel-4, stride-2 conv at 16³, batch 16, took
 * 1,759 ms forward + backward (native; 1,119 ms on wasm). The same layer as a patch convolution
 * below takes 16 ms on native.
 *
 * These are genuine 3-D convolutions, checked against tf.conv3d / tf.conv3dTranspose (values and
 * gradients) in shape.test.ts:
 * - patchDown: kernel 2³, stride 2, 'valid' — space-to-depth ([B, D/2, 2, H/2, 2, W/2, 2, C] →
 *   [N, 8C]) then a dense layer. Weight in conv3d layout [2, 2, 2, Cin, Cout].
 * - patchUp: the transposed conv (kernel 2³, stride 2) — a dense layer to 8·Cout, then
 *   depth-to-space. Weight in conv3dTranspose layout [2, 2, 2, Cout, Cin].
 * - pointwise: kernel 1³ (a dense layer over channels).
 * - mix3: kernel 3³, stride 1, 'same' — im2col by 27 shifted slices of the zero-padded input,
 *   concatenated on channels, then one matrix product. Its memory is 27× the input's, so the
 *   models use it only at coarse levels (≤ 8³), where it is the only layer whose receptive field
 *   crosses the patch boundaries of the layers above.
 */
import * as tf from '../../core/tf.ts';
import type { ParamBuilder, Params } from '../../core/params.ts';

export type Voxels = tf.Tensor5D;

export function addPatchDown(builder: ParamBuilder, name: string, inChannels: number, outChannels: number, gain?: number): void {
  builder.weight(`${name}.weight`, [2, 2, 2, inChannels, outChannels], 8 * inChannels, gain);
  builder.constant(`${name}.bias`, [outChannels]);
}

/** Kernel 2³, stride 2: [B, D, H, W, Cin] → [B, D/2, H/2, W/2, Cout]. */
export function patchDown(params: Params, name: string, x: Voxels): Voxels {
  return tf.tidy(() => {
    const [batch, depth, height, width, channels] = x.shape;
    const weight = params[`${name}.weight`]!;
    const out = weight.shape[4]!;
    const [d, h, w] = [depth / 2, height / 2, width / 2];
    const patches = x
      .reshape([batch * d, 2, h, 2, w, 2, channels])
      .transpose([0, 2, 4, 1, 3, 5, 6]) // [B·D/2, H/2, W/2, 2, 2, 2, C]
      .reshape([batch * d * h * w, 8 * channels]);
    const y = tf.add(tf.matMul(patches as tf.Tensor2D, weight.reshape([8 * channels, out]) as tf.Tensor2D), params[`${name}.bias`]!);
    return y.reshape([batch, d, h, w, out]) as Voxels;
  });
}

export function addPatchUp(builder: ParamBuilder, name: string, inChannels: number, outChannels: number, gain?: number): void {
  // Each output voxel of a stride-2, kernel-2 transpose sees exactly one input voxel: fan-in Cin.
  builder.weight(`${name}.weight`, [2, 2, 2, outChannels, inChannels], inChannels, gain);
  builder.constant(`${name}.bias`, [outChannels]);
}

/** Transposed kernel 2³, stride 2: [B, D, H, W, Cin] → [B, 2D, 2H, 2W, Cout]. */
export function patchUp(params: Params, name: string, x: Voxels): Voxels {
  return tf.tidy(() => {
    const [batch, depth, height, width, channels] = x.shape;
    const weight = params[`${name}.weight`]!;
    const out = weight.shape[3]!;
    const matrix = weight.transpose([4, 0, 1, 2, 3]).reshape([channels, 8 * out]) as tf.Tensor2D; // [Cin, (2, 2, 2, Cout)]
    const y = tf.matMul(x.reshape([batch * depth * height * width, channels]) as tf.Tensor2D, matrix);
    const spread = y
      .reshape([batch * depth, height, width, 2, 2, 2, out])
      .transpose([0, 3, 1, 4, 2, 5, 6]) // [B·D, 2, H, 2, W, 2, Cout]
      .reshape([batch, 2 * depth, 2 * height, 2 * width, out]);
    return tf.add(spread, params[`${name}.bias`]!) as Voxels;
  });
}

export function addPointwise(builder: ParamBuilder, name: string, inChannels: number, outChannels: number, gain?: number): void {
  builder.weight(`${name}.weight`, [inChannels, outChannels], inChannels, gain);
  builder.constant(`${name}.bias`, [outChannels]);
}

/** Kernel 1³: a dense layer over the channels of every voxel. */
export function pointwise(params: Params, name: string, x: Voxels): Voxels {
  return tf.tidy(() => {
    const [batch, depth, height, width, channels] = x.shape;
    const weight = params[`${name}.weight`] as tf.Tensor2D;
    const y = tf.add(tf.matMul(x.reshape([-1, channels]) as tf.Tensor2D, weight), params[`${name}.bias`]!);
    return y.reshape([batch, depth, height, width, weight.shape[1]]) as Voxels;
  });
}

export function addMix3(builder: ParamBuilder, name: string, inChannels: number, outChannels: number, gain?: number): void {
  builder.weight(`${name}.weight`, [3, 3, 3, inChannels, outChannels], 27 * inChannels, gain);
  builder.constant(`${name}.bias`, [outChannels]);
}

/** Kernel 3³, stride 1, 'same' (zero padding): [B, D, H, W, Cin] → [B, D, H, W, Cout]. */
export function mix3(params: Params, name: string, x: Voxels): Voxels {
  return tf.tidy(() => {
    const [batch, depth, height, width, channels] = x.shape;
    const weight = params[`${name}.weight`]!;
    const out = weight.shape[4]!;
    const padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [1, 1], [0, 0]]);
    const taps: tf.Tensor[] = [];
    // Tap order (kd, kh, kw) matches the weight's [3, 3, 3, Cin, Cout] layout flattened.
    for (let kd = 0; kd < 3; kd++) {
      for (let kh = 0; kh < 3; kh++) {
        for (let kw = 0; kw < 3; kw++) taps.push(tf.slice(padded, [0, kd, kh, kw, 0], [batch, depth, height, width, channels]));
      }
    }
    const columns = tf.concat(taps, 4).reshape([-1, 27 * channels]) as tf.Tensor2D;
    const y = tf.add(tf.matMul(columns, weight.reshape([27 * channels, out]) as tf.Tensor2D), params[`${name}.bias`]!);
    return y.reshape([batch, depth, height, width, out]) as Voxels;
  });
}

/** Per-voxel RMS normalisation over channels (no parameters): keeps activations at unit scale without batch statistics. */
export function channelNorm(x: Voxels): Voxels {
  return tf.tidy(() => tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-5))) as Voxels);
}
