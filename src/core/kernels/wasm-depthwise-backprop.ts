/**
 * The two depthwise-convolution gradients for the tfjs wasm backend (tfjs 4.22 ships neither).
 *
 * Geometry shared by both (NHWC, filter [FH, FW, C, M], dy [B, OH, OW, C*M]):
 *   inRow = oy*sh + fr*dh - padTop,  inCol = ox*sw + fc*dw - padLeft
 *   y[b, oy, ox, c*M + m] = sum over (fr, fc) of x[b, inRow, inCol, c] * filter[fr, fc, c, m]
 * Dilations are honoured here. (The cpu backend's versions of these two kernels ignore dilations
 * in their loops, so for dilation > 1 they disagree with the forward op; tfjs's own depthwise
 * gradient only ever calls them with dilation 1, where all agree.)
 *
 * The work is small next to a dense conv (no sum over input channels), so these are direct loops;
 * they keep the channel axis innermost so every read of x, dy and filter is contiguous.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GenloomError } from '../errors.ts';
import { asWasmBackend, heapFloat32, requireDtype, requireRank4, requireShape } from './wasm-kernel-util.ts';

const FILTER_KERNEL_NAME = tf.DepthwiseConv2dNativeBackpropFilter;
const INPUT_KERNEL_NAME = tf.DepthwiseConv2dNativeBackpropInput;

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs: tf.NamedAttrMap;
}

export const depthwiseConv2dBackpropFilterWasmConfig: tf.KernelConfig = {
  kernelName: FILTER_KERNEL_NAME,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dBackpropFilterWasm as unknown as tf.KernelFunc,
};

export const depthwiseConv2dBackpropInputWasmConfig: tf.KernelConfig = {
  kernelName: INPUT_KERNEL_NAME,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dBackpropInputWasm as unknown as tf.KernelFunc,
};

/** dFilter[fr, fc, c, m] = sum over (b, oy, ox) of x[b, inRow, inCol, c] * dy[b, oy, ox, c*M + m]. */
export function depthwiseConv2dBackpropFilterWasm(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend, FILTER_KERNEL_NAME);
  const { x, dy } = args.inputs as unknown as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, filterShape } =
    args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;

  requireDtype(x, ['float32'], FILTER_KERNEL_NAME, 'x');
  requireDtype(dy, ['float32'], FILTER_KERNEL_NAME, 'dy');
  const xShape = requireRank4(x, FILTER_KERNEL_NAME, 'x');
  requireRank4(dy, FILTER_KERNEL_NAME, 'dy');
  const convInfo = tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, dilations ?? 1, pad, dimRoundingMode, true);
  requireMatchingChannels(convInfo.inChannels, filterShape[2], FILTER_KERNEL_NAME);
  requireShape(dy, convInfo.outShape, FILTER_KERNEL_NAME, 'dy');

  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = convInfo;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth, filterHeight, filterWidth } = convInfo;
  const padTop = convInfo.padInfo.top;
  const padLeft = convInfo.padInfo.left;
  const channelMultiplier = filterShape[3];

  const output = backend.makeOutput([...filterShape], 'float32');
  const xValues = heapFloat32(backend, x);
  const dyValues = heapFloat32(backend, dy);
  const outValues = heapFloat32(backend, output);

  // One (fr, fc) tap's gradient, C*M values laid out exactly like dy's channel axis (j = c*M + m),
  // accumulated in float64 and stored once.
  const tapGradient = new Float64Array(outChannels);
  for (let filterRow = 0; filterRow < filterHeight; filterRow++) {
    for (let filterColumn = 0; filterColumn < filterWidth; filterColumn++) {
      tapGradient.fill(0);
      const tapColumnOffset = filterColumn * dilationWidth - padLeft;
      const [firstOutColumn, endOutColumn] = validOutputRange(tapColumnOffset, strideWidth, inWidth, outWidth);
      for (let batch = 0; batch < batchSize; batch++) {
        for (let outRow = 0; outRow < outHeight; outRow++) {
          const inRow = outRow * strideHeight + filterRow * dilationHeight - padTop;
          if (inRow < 0 || inRow >= inHeight) continue;
          const xRowOffset = (batch * inHeight + inRow) * inWidth;
          const dyRowOffset = (batch * outHeight + outRow) * outWidth;
          for (let outColumn = firstOutColumn; outColumn < endOutColumn; outColumn++) {
            const xOffset = (xRowOffset + outColumn * strideWidth + tapColumnOffset) * inChannels;
            const dyOffset = (dyRowOffset + outColumn) * outChannels;
            if (channelMultiplier === 1) {
              for (let channel = 0; channel < inChannels; channel++) {
                tapGradient[channel] += xValues[xOffset + channel] * dyValues[dyOffset + channel];
              }
            } else {
              let outChannel = 0;
              for (let channel = 0; channel < inChannels; channel++) {
                const xValue = xValues[xOffset + channel];
                for (let multiplier = 0; multiplier < channelMultiplier; multiplier++, outChannel++) {
                  tapGradient[outChannel] += xValue * dyValues[dyOffset + outChannel];
                }
              }
            }
          }
        }
      }
      outValues.set(tapGradient, (filterRow * filterWidth + filterColumn) * outChannels);
    }
  }
  return output;
}

/**
 * dx[b, iy, ix, c] = sum over taps (fr, fc) and m of dy[b, oy, ox, c*M + m] * filter[fr, fc, c, m]
 * over the (oy, ox) that read (iy, ix) through tap (fr, fc). Written as a gather (each dx pixel is
 * computed once from the few taps that reach it) so dx is written sequentially, exactly once.
 */
export function depthwiseConv2dBackpropInputWasm(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend, INPUT_KERNEL_NAME);
  const { dy, filter } = args.inputs as unknown as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, inputShape } =
    args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;

  requireDtype(dy, ['float32'], INPUT_KERNEL_NAME, 'dy');
  requireDtype(filter, ['float32'], INPUT_KERNEL_NAME, 'filter');
  const filterShape = requireRank4(filter, INPUT_KERNEL_NAME, 'filter');
  requireRank4(dy, INPUT_KERNEL_NAME, 'dy');
  const convInfo = tf.backend_util.computeConv2DInfo(inputShape, filterShape, strides, dilations ?? 1, pad, dimRoundingMode, true);
  requireMatchingChannels(convInfo.inChannels, filterShape[2], INPUT_KERNEL_NAME);
  requireShape(dy, convInfo.outShape, INPUT_KERNEL_NAME, 'dy');

  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = convInfo;
  const channelMultiplier = filterShape[3];
  const rowTaps = computeTaps(inHeight, outHeight, convInfo.strideHeight, convInfo.dilationHeight, convInfo.padInfo.top, convInfo.filterHeight);
  const columnTaps = computeTaps(inWidth, outWidth, convInfo.strideWidth, convInfo.dilationWidth, convInfo.padInfo.left, convInfo.filterWidth);

  const output = backend.makeOutput([...inputShape], 'float32');
  const dyValues = heapFloat32(backend, dy);
  const filterValues = heapFloat32(backend, filter);
  const outValues = heapFloat32(backend, output);

  const pixelGradient = new Float64Array(inChannels);
  let outOffset = 0;
  for (let batch = 0; batch < batchSize; batch++) {
    for (let inRow = 0; inRow < inHeight; inRow++) {
      const rowTapEnd = rowTaps.start[inRow + 1];
      for (let inColumn = 0; inColumn < inWidth; inColumn++) {
        pixelGradient.fill(0);
        const columnTapEnd = columnTaps.start[inColumn + 1];
        for (let rowTap = rowTaps.start[inRow]; rowTap < rowTapEnd; rowTap++) {
          const filterRowOffset = rowTaps.filterIndex[rowTap] * convInfo.filterWidth;
          const dyRowOffset = (batch * outHeight + rowTaps.outIndex[rowTap]) * outWidth;
          for (let columnTap = columnTaps.start[inColumn]; columnTap < columnTapEnd; columnTap++) {
            const filterOffset = (filterRowOffset + columnTaps.filterIndex[columnTap]) * outChannels;
            const dyOffset = (dyRowOffset + columnTaps.outIndex[columnTap]) * outChannels;
            if (channelMultiplier === 1) {
              for (let channel = 0; channel < inChannels; channel++) {
                pixelGradient[channel] += dyValues[dyOffset + channel] * filterValues[filterOffset + channel];
              }
            } else {
              let outChannel = 0;
              for (let channel = 0; channel < inChannels; channel++) {
                let sum = 0;
                for (let multiplier = 0; multiplier < channelMultiplier; multiplier++, outChannel++) {
                  sum += dyValues[dyOffset + outChannel] * filterValues[filterOffset + outChannel];
                }
                pixelGradient[channel] += sum;
              }
            }
          }
        }
        outValues.set(pixelGradient, outOffset);
        outOffset += inChannels;
      }
    }
  }
  return output;
}

/**
 * For one spatial axis: the half-open range of output positions o whose input position
 * o*stride + tapOffset lies inside [0, inSize). Always returns first <= end.
 */
function validOutputRange(tapOffset: number, stride: number, inSize: number, outSize: number): [number, number] {
  const first = Math.min(outSize, Math.max(0, Math.ceil(-tapOffset / stride)));
  const end = Math.max(first, Math.min(outSize, Math.floor((inSize - 1 - tapOffset) / stride) + 1));
  return [first, end];
}

/**
 * For one spatial axis, inverts "input position = o*stride + f*dilation - pad": for every input
 * position i, the (filter index f, output index o) pairs that read it, stored CSR-style — the pairs
 * of position i are entries start[i] .. start[i+1]-1 of filterIndex / outIndex. Precomputing this
 * keeps divisions and modulo tests out of the per-pixel loop.
 */
function computeTaps(
  inSize: number,
  outSize: number,
  stride: number,
  dilation: number,
  pad: number,
  filterSize: number,
): { start: Int32Array; filterIndex: Int32Array; outIndex: Int32Array } {
  const filterIndices: number[] = [];
  const outIndices: number[] = [];
  const start = new Int32Array(inSize + 1);
  for (let inPosition = 0; inPosition < inSize; inPosition++) {
    start[inPosition] = filterIndices.length;
    for (let filterPosition = 0; filterPosition < filterSize; filterPosition++) {
      const strided = inPosition + pad - filterPosition * dilation;
      if (strided < 0 || strided % stride !== 0) continue;
      const outPosition = strided / stride;
      if (outPosition >= outSize) continue;
      filterIndices.push(filterPosition);
      outIndices.push(outPosition);
    }
  }
  start[inSize] = filterIndices.length;
  return { start, filterIndex: Int32Array.from(filterIndices), outIndex: Int32Array.from(outIndices) };
}

function requireMatchingChannels(inputChannels: number, filterChannels: number, kernelName: string): void {
  if (inputChannels !== filterChannels) {
    throw new GenloomError(
      'SHAPE_MISMATCH',
      `${kernelName} on wasm: the input has ${inputChannels} channels but the filter expects ${filterChannels}.`,
    );
  }
}
