/**
 * The few building blocks the image families share, as plain functions over named parameters
 * (no layer objects): a dense layer and a strided 4×4 convolution and its transpose, NHWC.
 */
import * as tf from '../core/tf.ts';
import type { ParamBuilder, Params } from '../core/params.ts';

export function addDense(builder: ParamBuilder, name: string, inputs: number, outputs: number, gain?: number): void {
  builder.weight(`${name}.weight`, [inputs, outputs], inputs, gain);
  builder.constant(`${name}.bias`, [outputs]);
}

/** x·W + b as one fused product (the bias is added while each output tile is in cache). */
export function dense(params: Params, name: string, x: tf.Tensor2D): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: params[`${name}.weight`] as tf.Tensor2D, bias: params[`${name}.bias`] }) as tf.Tensor2D;
}

/** A 4×4, stride-2, 'same' convolution: halves height and width. */
export function addDownConv(builder: ParamBuilder, name: string, inChannels: number, outChannels: number): void {
  builder.weight(`${name}.weight`, [4, 4, inChannels, outChannels], 16 * inChannels);
  builder.constant(`${name}.bias`, [outChannels]);
}

export function downConv(params: Params, name: string, x: tf.Tensor4D): tf.Tensor4D {
  return convolve(params, name, x, 2);
}

/** A 'same' convolution plus its bias, as one fused kernel (the bias added in the product's epilogue). */
export function convolve(params: Params, name: string, x: tf.Tensor4D, stride = 1): tf.Tensor4D {
  return tf.fused.conv2d({ x, filter: params[`${name}.weight`] as tf.Tensor4D, strides: stride, pad: 'same', bias: params[`${name}.bias`] });
}

/**
 * A 4×4, stride-2 transposed convolution: doubles height and width. Its weight is stored in
 * tfjs's conv2dTranspose layout [4, 4, outChannels, inChannels].
 */
export function addUpConv(builder: ParamBuilder, name: string, inChannels: number, outChannels: number, gain?: number): void {
  // Each output pixel of a stride-2 transpose sees a quarter of the 4×4 taps: fan-in 4·inChannels.
  builder.weight(`${name}.weight`, [4, 4, outChannels, inChannels], 4 * inChannels, gain);
  builder.constant(`${name}.bias`, [outChannels]);
}

export function upConv(params: Params, name: string, x: tf.Tensor4D): tf.Tensor4D {
  const weight = params[`${name}.weight`] as tf.Tensor4D;
  const [batch, height, width] = x.shape;
  const outShape: [number, number, number, number] = [batch, height * 2, width * 2, weight.shape[2]];
  return tf.add(tf.conv2dTranspose(x, weight, outShape, 2, 'same'), params[`${name}.bias`]!);
}

/**
 * The image VAEs' decoder body: input [B, D] → dense `${prefix}.hidden` (ReLU) → dense
 * `${prefix}.project` (ReLU) reshaped to `bottleneck` [h, w, c] → one upConv per
 * `${prefix}.deconv${i}` (ReLU between, none after): raw outputs, e.g. Bernoulli logits.
 */
export function denseUpConvDecoder(params: Params, prefix: string, input: tf.Tensor2D, bottleneck: readonly [number, number, number], layers: number): tf.Tensor4D {
  return tf.tidy(() => {
    const hidden = tf.relu(dense(params, `${prefix}.hidden`, input));
    let h = tf.relu(dense(params, `${prefix}.project`, hidden)).reshape([input.shape[0], ...bottleneck]) as tf.Tensor4D;
    for (let i = 0; i < layers; i++) {
      h = upConv(params, `${prefix}.deconv${i}`, h);
      if (i < layers - 1) h = tf.relu(h);
    }
    return h;
  });
}
