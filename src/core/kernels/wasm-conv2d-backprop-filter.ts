/**
 * Conv2DBackpropFilter for the tfjs wasm backend (tfjs 4.22 ships none, so every conv layer's
 * weight gradient fails on wasm without it).
 *
 * dW[fr, fc, c, oc] = sum over (b, oy, ox) of x[b, oy*sh + fr - padTop, ox*sw + fc - padLeft, c] * dy[b, oy, ox, oc]
 *
 * which is one matrix product once x is unrolled:
 *   patchesT [K = FH*FW*C, N = B*OH*OW]   (row k = (fr, fc, c), column n = (b, oy, ox))
 *   dy2d     [N, OC]                       (dy's NHWC buffer read as a matrix, no data movement)
 *   dW = patchesT @ dy2d  -> [K, OC], whose row-major order is exactly [FH, FW, C, OC].
 * The im2col is written straight into the transposed layout because the wasm matmul only takes
 * its XNNPACK fast path for untransposed operands; the product itself runs in wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GenloomError } from '../errors.ts';
import {
  asWasmBackend,
  heapFloat32,
  requireDtype,
  requireNhwc,
  requireRank4,
  requireShape,
  runWasmMatMul,
} from './wasm-kernel-util.ts';

const KERNEL_NAME = tf.Conv2DBackpropFilter;

export const conv2dBackpropFilterWasmConfig: tf.KernelConfig = {
  kernelName: KERNEL_NAME,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilterWasm as unknown as tf.KernelFunc,
};

export function conv2dBackpropFilterWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend = asWasmBackend(args.backend, KERNEL_NAME);
  const { x, dy } = args.inputs as unknown as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;

  requireNhwc(dataFormat, KERNEL_NAME);
  requireDtype(x, ['float32'], KERNEL_NAME, 'x');
  requireDtype(dy, ['float32'], KERNEL_NAME, 'dy');
  const xShape = requireRank4(x, KERNEL_NAME, 'x');
  requireRank4(dy, KERNEL_NAME, 'dy');

  const convInfo = tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    strides,
    1 /* the op has no dilations attr; tfjs rejects dilated conv2d gradients upstream */,
    pad,
    dimRoundingMode,
    false /* depthwise */,
    'channelsLast',
  );
  if (convInfo.inChannels !== filterShape[2]) {
    throw new GenloomError(
      'SHAPE_MISMATCH',
      `${KERNEL_NAME} on wasm: x has ${convInfo.inChannels} channels but filterShape expects ${filterShape[2]}.`,
    );
  }
  requireShape(dy, convInfo.outShape, KERNEL_NAME, 'dy');

  const patchRows = convInfo.filterHeight * convInfo.filterWidth * convInfo.inChannels;
  const patchColumns = convInfo.batchSize * convInfo.outHeight * convInfo.outWidth;
  const outChannels = convInfo.outChannels;

  // Degenerate geometry (an empty batch or output): the gradient is all zeros, and XNNPACK
  // rejects zero-sized operands, so answer directly.
  if (patchRows === 0 || patchColumns === 0 || outChannels === 0) {
    const zeros = backend.makeOutput([...filterShape], 'float32');
    heapFloat32(backend, zeros).fill(0);
    return zeros;
  }

  // All allocations happen before any heap view is taken (see wasm-kernel-util.ts).
  const patchesT = backend.makeOutput([patchRows, patchColumns], 'float32');
  // dy is copied into a private buffer rather than handed to the matmul as-is: the wasm matmul
  // caches its packed right-hand operand keyed by tensor id only, so passing dy itself would leave
  // a packed copy alive for dy's lifetime and could serve a stale packing to a later matmul that
  // uses a differently reshaped view of the same data. The copy is O(N*OC), negligible next to the
  // O(K*N*OC) product, and disposing it frees the cached operator at once.
  const dyMatrix = backend.makeOutput([patchColumns, outChannels], 'float32');

  const xValues = heapFloat32(backend, x);
  heapFloat32(backend, dyMatrix).set(heapFloat32(backend, dy));
  fillTransposedPatches(heapFloat32(backend, patchesT), xValues, convInfo);

  const product = runWasmMatMul(backend, patchesT, dyMatrix, KERNEL_NAME);
  backend.disposeData(patchesT.dataId);
  backend.disposeData(dyMatrix.dataId);
  // The product's [K, OC] row-major buffer is already laid out as [FH, FW, C, OC].
  return { dataId: product.dataId, shape: [...filterShape], dtype: 'float32' };
}

/**
 * Channel count from which the pixel-major im2col walk beats the row-major one. Measured on the
 * two benchmark shapes: with C = 32 pixel-major is ~2x faster (x is read contiguously, C output
 * rows are written in lockstep); with C = 1 row-major wins (its inner loop is a long strided copy,
 * pixel-major's would be a loop of length 1).
 */
const PIXEL_MAJOR_MIN_CHANNELS = 4;

/**
 * im2col into the transposed layout: patchesT[k * N + n] with k = (fr*FW + fc)*C + c and
 * n = (b*OH + oy)*OW + ox holds x[b, oy*sh + fr - padTop, ox*sw + fc - padLeft, c], or 0 where that
 * position falls in the padding. The valid ox range of every (fr, fc) is computed once, so the
 * inner loops carry no bounds checks. Every element is written (malloc does not zero the heap).
 */
function fillTransposedPatches(patchesT: Float32Array, xValues: Float32Array, convInfo: tf.backend_util.Conv2DInfo): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } =
    convInfo;
  const padTop = convInfo.padInfo.top;
  const padLeft = convInfo.padInfo.left;
  const patchColumns = batchSize * outHeight * outWidth;
  const xRowStride = inWidth * inChannels;
  const xBatchStride = inHeight * xRowStride;
  const xColumnStep = strideWidth * inChannels;
  const pixelMajor = inChannels >= PIXEL_MAJOR_MIN_CHANNELS;

  for (let filterRow = 0; filterRow < filterHeight; filterRow++) {
    for (let filterColumn = 0; filterColumn < filterWidth; filterColumn++) {
      // Output columns ox whose input column ox*sw + fc - padLeft lies inside [0, inWidth).
      const firstValidOutColumn = Math.min(outWidth, Math.max(0, Math.ceil((padLeft - filterColumn) / strideWidth)));
      const endValidOutColumn = Math.max(
        firstValidOutColumn,
        Math.min(outWidth, Math.floor((inWidth - 1 + padLeft - filterColumn) / strideWidth) + 1),
      );
      const firstInColumn = firstValidOutColumn * strideWidth + filterColumn - padLeft;
      // First of the C consecutive patch rows (one per input channel) that this tap fills.
      const tapRowsStart = (filterRow * filterWidth + filterColumn) * inChannels * patchColumns;

      if (pixelMajor) {
        // Per output pixel: read x's C contiguous channels once, write them down the C rows
        // (C write streams advancing together, one element each per pixel).
        let column = 0;
        for (let batch = 0; batch < batchSize; batch++) {
          for (let outRow = 0; outRow < outHeight; outRow++) {
            const inRow = outRow * strideHeight + filterRow - padTop;
            if (inRow < 0 || inRow >= inHeight) {
              for (let channel = 0, target = tapRowsStart + column; channel < inChannels; channel++, target += patchColumns) {
                patchesT.fill(0, target, target + outWidth);
              }
              column += outWidth;
              continue;
            }
            const xRowOffset = batch * xBatchStride + inRow * xRowStride;
            for (let outColumn = 0; outColumn < outWidth; outColumn++, column++) {
              let target = tapRowsStart + column;
              if (outColumn < firstValidOutColumn || outColumn >= endValidOutColumn) {
                for (let channel = 0; channel < inChannels; channel++, target += patchColumns) patchesT[target] = 0;
                continue;
              }
              const source = xRowOffset + (outColumn * strideWidth + filterColumn - padLeft) * inChannels;
              for (let channel = 0; channel < inChannels; channel++, target += patchColumns) {
                patchesT[target] = xValues[source + channel];
              }
            }
          }
        }
      } else {
        // Per patch row (one channel): a sequential write of N values, each a strided read of x.
        for (let channel = 0; channel < inChannels; channel++) {
          let target = tapRowsStart + channel * patchColumns;
          for (let batch = 0; batch < batchSize; batch++) {
            const xBatchOffset = batch * xBatchStride + channel;
            for (let outRow = 0; outRow < outHeight; outRow++) {
              const inRow = outRow * strideHeight + filterRow - padTop;
              if (inRow < 0 || inRow >= inHeight) {
                patchesT.fill(0, target, target + outWidth);
                target += outWidth;
                continue;
              }
              let outColumn = 0;
              for (; outColumn < firstValidOutColumn; outColumn++) patchesT[target++] = 0;
              let source = xBatchOffset + inRow * xRowStride + firstInColumn * inChannels;
              for (; outColumn < endValidOutColumn; outColumn++) {
                patchesT[target++] = xValues[source];
                source += xColumnStep;
              }
              for (; outColumn < outWidth; outColumn++) patchesT[target++] = 0;
            }
          }
        }
      }
    }
  }
}
