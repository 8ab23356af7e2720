/**
 * Conv2DBackpropInput as one XNNPACK convolution ("sub-pixel" decomposition), the fast path of
 * wasm-conv2d-backprop-input.ts for layers with enough input channels.
 *
 * Along one axis (stride s, filter F, leading pad p), dx[y] = sum over taps f with
 * y = o*s + f - p of dy[o] * W[f]. All y with the same phase r = (y + p) mod s use only the taps
 * f = r, r + s, r + 2s, ...: per phase, dx is an ordinary stride-1 correlation of dy with a short
 * flipped sub-filter, W'_r[u] = W[r + s*(T - 1 - u)] for u < T = ceil(F / s) (zero past the end of
 * W). Stacking the s_h*s_w phases' sub-filters along the output channels turns the whole gradient
 * into a single stride-1 conv2d of dy, [B, OH', OW', s_h*s_w*C], which wasm runs with XNNPACK;
 * a JS pass then interleaves the phases into dx. Unlike convolving the zero-dilated dy, no
 * multiply-add touches an inserted zero, and unlike GEMM + col2im there is no [N, FH*FW*C] buffer
 * to write and scatter.
 *
 * Phase r's outputs y = y0 + s*j read dy rows q0 + j - (T - 1) ... q0 + j with q0 = (y0 + p - r) / s;
 * the conv pads dy by P before (enough for every phase) so that output index m = j + q0 - (T-1) + P.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { GenloomError } from '../errors.ts';
import { heapFloat32, runSingle } from './wasm-kernel-util.ts';

/** Where each phase of one spatial axis lives in the stacked convolution's output. */
interface AxisPhases {
  /** Taps per sub-filter: ceil(F / s). */
  taps: number;
  /** Padding of dy before and after along this axis. */
  padBefore: number;
  padAfter: number;
  /** Length of the convolution's output along this axis. */
  convLength: number;
  /** Per dx position y: its phase r, and the index m of its value in the conv output. */
  phaseOf: Int32Array;
  convIndexOf: Int32Array;
}

function axisPhases(size: number, dySize: number, filterSize: number, stride: number, padBefore: number): AxisPhases {
  const taps = Math.ceil(filterSize / stride);
  const first = new Array<number>(stride); // y0 of each phase
  const shift = new Array<number>(stride); // q0 - (T - 1) of each phase
  let pad = 0;
  for (let phase = 0; phase < stride; phase++) {
    first[phase] = (((phase - padBefore) % stride) + stride) % stride;
    shift[phase] = (first[phase] + padBefore - phase) / stride - (taps - 1);
    if (first[phase] < size) pad = Math.max(pad, -shift[phase]);
  }
  const phaseOf = new Int32Array(size);
  const convIndexOf = new Int32Array(size);
  let needed = 1;
  for (let y = 0; y < size; y++) {
    const phase = (((y + padBefore) % stride) + stride) % stride;
    phaseOf[y] = phase;
    convIndexOf[y] = (y - first[phase]) / stride + shift[phase] + pad;
    needed = Math.max(needed, convIndexOf[y] + 1);
  }
  // A stride-1 'valid' conv over the padded axis yields dySize + pads - T + 1 outputs.
  const padAfter = Math.max(0, needed - (dySize + pad - taps + 1));
  return { taps, padBefore: pad, padAfter, convLength: dySize + pad + padAfter - taps + 1, phaseOf, convIndexOf };
}

/** dx for NHWC dy and filter [FH, FW, C, OC]; the caller validated the geometry. */
export function conv2dBackpropInputByPhases(
  backend: BackendWasm,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  convInfo: tf.backend_util.Conv2DInfo,
  kernelName: string,
): tf.TensorInfo {
  const conv2d = tf.getKernel(tf.Conv2D, 'wasm');
  if (conv2d == null) throw new GenloomError('BACKEND', `${kernelName} on wasm needs the wasm Conv2D kernel, which is not registered.`);
  const { inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = convInfo;
  const rows = axisPhases(inHeight, outHeight, filterHeight, strideHeight, convInfo.padInfo.top);
  const columns = axisPhases(inWidth, outWidth, filterWidth, strideWidth, convInfo.padInfo.left);

  const stacked = backend.makeOutput([rows.taps, columns.taps, convInfo.outChannels, strideHeight * strideWidth * convInfo.inChannels], 'float32');
  let convOut: tf.TensorInfo;
  try {
    fillStackedFilter(heapFloat32(backend, stacked), heapFloat32(backend, filter), convInfo, rows.taps, columns.taps);
    const pad = [[0, 0], [rows.padBefore, rows.padAfter], [columns.padBefore, columns.padAfter], [0, 0]];
    convOut = runSingle(conv2d, {
      inputs: { x: dy, filter: stacked },
      backend,
      attrs: { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1] } as unknown as tf.NamedAttrMap,
    });
  } finally {
    backend.disposeData(stacked.dataId); // also frees the XNNPACK operator cached under its id
  }
  try {
    const expected = [convInfo.batchSize, rows.convLength, columns.convLength, strideHeight * strideWidth * convInfo.inChannels];
    if (convOut.shape.some((size, axis) => size !== expected[axis])) {
      throw new GenloomError('BACKEND', `${kernelName} on wasm: the phase convolution returned [${convOut.shape.join(', ')}], expected [${expected.join(', ')}].`);
    }
    const dx = backend.makeOutput([...convInfo.inShape], 'float32');
    interleavePhases(heapFloat32(backend, dx), heapFloat32(backend, convOut), convInfo, rows, columns);
    return dx;
  } finally {
    backend.disposeData(convOut.dataId);
  }
}

/**
 * stacked[u, v, oc, (rh*sw + rw)*C + c] = W[rh + sh*(Th-1-u), rw + sw*(Tw-1-v), c, oc], or 0 where
 * that tap lies past the filter's end (phases whose sub-filter is shorter than T).
 */
function fillStackedFilter(stacked: Float32Array, filter: Float32Array, convInfo: tf.backend_util.Conv2DInfo, rowTaps: number, columnTaps: number): void {
  const { filterHeight, filterWidth, inChannels, outChannels, strideHeight, strideWidth } = convInfo;
  let target = 0;
  for (let u = 0; u < rowTaps; u++) {
    for (let v = 0; v < columnTaps; v++) {
      for (let outChannel = 0; outChannel < outChannels; outChannel++) {
        for (let rowPhase = 0; rowPhase < strideHeight; rowPhase++) {
          const filterRow = rowPhase + strideHeight * (rowTaps - 1 - u);
          for (let columnPhase = 0; columnPhase < strideWidth; columnPhase++, target += inChannels) {
            const filterColumn = columnPhase + strideWidth * (columnTaps - 1 - v);
            if (filterRow >= filterHeight || filterColumn >= filterWidth) {
              stacked.fill(0, target, target + inChannels);
              continue;
            }
            let source = (filterRow * filterWidth + filterColumn) * inChannels * outChannels + outChannel;
            for (let channel = 0; channel < inChannels; channel++, source += outChannels) stacked[target + channel] = filter[source];
          }
        }
      }
    }
  }
}

/** dx[b, y, x, :] = convOut[b, m(y), m(x), phase(y, x) * C : + C], written sequentially. */
function interleavePhases(dx: Float32Array, convOut: Float32Array, convInfo: tf.backend_util.Conv2DInfo, rows: AxisPhases, columns: AxisPhases): void {
  const { batchSize, inHeight, inWidth, inChannels, strideWidth } = convInfo;
  const stackedChannels = convInfo.strideHeight * strideWidth * inChannels;
  const convRowStride = columns.convLength * stackedChannels;
  // Per dx column: offset of its values within a conv output row (position and phase).
  const columnOffset = new Int32Array(inWidth);
  for (let x = 0; x < inWidth; x++) columnOffset[x] = columns.convIndexOf[x] * stackedChannels + columns.phaseOf[x] * inChannels;
  let target = 0;
  for (let image = 0; image < batchSize; image++) {
    const convImage = image * rows.convLength * convRowStride;
    for (let y = 0; y < inHeight; y++) {
      const rowBase = convImage + rows.convIndexOf[y] * convRowStride + rows.phaseOf[y] * strideWidth * inChannels;
      for (let x = 0; x < inWidth; x++) {
        let source = rowBase + columnOffset[x];
        for (let channel = 0; channel < inChannels; channel++) dx[target++] = convOut[source++];
      }
    }
  }
}
