/**
 * Conv2DBackpropInput for the tfjs wasm backend, installed over the stock kernel. It is both the
 * input gradient of conv2d and the forward pass of conv2dTranspose (every decoder upsampling
 * layer); the stock kernel is a naive scalar loop, one of the two costs that dominated a VAE step.
 * Two implementations, chosen per call (conv2dBackpropInputOptions):
 *   - phases: one XNNPACK Conv2D over dy with the sub-pixel filters stacked along its output
 *     channels (wasm-conv2d-backprop-input-phases.ts), for layers with enough channels;
 *   - GEMM + col2im (this file), for the thin layers where XNNPACK with few output channels is slow.
 * Measured (2-core machine under load, min of 4; dx shape / filter / stride):
 *   [128,14,14,32] / [4,4,32,64] / 2   stock 150-180 ms, gemm 59-77 ms, phases 43-45 ms
 *   [32,16,16,64]  / [3,3,64,64] / 1   gemm 78 ms, phases 43 ms
 *   [32,16,16,8]   / [4,4,8,64]  / 2   gemm 5.4 ms, phases 3.9 ms
 *   [128,28,28,1]  / [4,4,1,32]  / 2   gemm 3.8 ms, phases 4.3 ms
 *   [32,16,16,4]   / [3,3,4,64]  / 1   gemm 5.3 ms, phases 5.9 ms
 * The textbook alternative, XNNPACK Conv2D over the zero-dilated dy with the flipped filter, lost
 * to both (116 ms and 49 ms on the first and fourth rows): a stride-s dilation makes s² - 1 of
 * every s² multiply-adds hit an inserted zero.
 *
 * dx[b, y, x, c] = sum over (oy, ox, fr, fc) with y = oy*sh + fr - padTop, x = ox*sw + fc - padLeft
 *                  of dy[b, oy, ox, oc] * W[fr, fc, c, oc]   (summed over oc)
 *
 * As GEMM + col2im:
 *   dy2d [N = B*OH*OW, OC]     (dy's NHWC buffer read as a matrix, no data movement)
 *   Wt   [OC, K = FH*FW*C]     (the filter [FH, FW, C, OC] read as [K, OC], transposed once: small)
 *   cols = dy2d @ Wt -> [N, K] (XNNPACK: a plain-layout product, its fast path)
 * then each row n = (b, oy, ox) of cols holds, per tap (fr, fc), the C values to add into
 * dx[b, oy*sh + fr - padTop, ox*sw + fc - padLeft, :], a contiguous run in NHWC.
 *
 * NHWC only; NCHW goes to the stock kernel, which supports it. The op has no dilations (tfjs
 * rejects dilated conv2d gradients upstream), so an attrs.dilations other than 1 is an error.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GenloomError } from '../errors.ts';
import {
  asWasmBackend,
  heapFloat32,
  overrideWasmKernel,
  requireDtype,
  requireRank4,
  requireShape,
  runSingle,
  runWasmMatMul,
} from './wasm-kernel-util.ts';
import { conv2dBackpropInputByPhases } from './wasm-conv2d-backprop-input-phases.ts';

const KERNEL_NAME = tf.Conv2DBackpropInput;

/**
 * strategy: 'auto' takes the phase convolution from PHASES_MIN_STACKED_CHANNELS output channels of
 * that convolution (strideH * strideW * C; the table above puts the crossover between 4 and 8) and
 * GEMM + col2im below; tests and benchmarks force one or the other.
 * maxColumnFloats: upper bound on GEMM + col2im's cols buffer (default 16 Mi floats = 64 MiB);
 * larger problems run a few images at a time, so a big layer does not grow the wasm heap (which
 * never shrinks) by the full N*K.
 */
export const conv2dBackpropInputOptions: { strategy: 'auto' | 'gemm' | 'phases'; maxColumnFloats: number } = {
  strategy: 'auto',
  maxColumnFloats: 16 * 1024 * 1024,
};
const PHASES_MIN_STACKED_CHANNELS = 8;

/** Installs genloom's kernel over the stock one (kept for NCHW). Idempotent; false if wasm is not loaded. */
export function registerWasmConv2DBackpropInput(): boolean {
  return overrideWasmKernel(KERNEL_NAME, (stock) => ((args: Parameters<tf.KernelFunc>[0]) => conv2dBackpropInputWasm(stock, args)) as tf.KernelFunc);
}

function conv2dBackpropInputWasm(stock: tf.KernelConfig, args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { dy, filter } = args.inputs as unknown as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs & { dilations?: number | [number, number] };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
  if (dataFormat === 'NCHW') return runSingle(stock, args);

  const backend = asWasmBackend(args.backend, KERNEL_NAME);
  requireDtype(dy, ['float32'], KERNEL_NAME, 'dy');
  requireDtype(filter, ['float32'], KERNEL_NAME, 'filter');
  requireRank4(dy, KERNEL_NAME, 'dy');
  const filterShape = requireRank4(filter, KERNEL_NAME, 'filter');
  const dilations = attrs.dilations ?? 1;
  if (!(Array.isArray(dilations) ? dilations : [dilations]).every((rate) => rate === 1)) {
    throw new GenloomError('UNSUPPORTED', `${KERNEL_NAME} on wasm: dilations ${String(dilations)} are not supported; the op is defined for dilation 1 only.`);
  }
  const convInfo = tf.backend_util.computeConv2DInfo(inputShape, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  if (convInfo.inChannels !== filterShape[2]) {
    throw new GenloomError(
      'SHAPE_MISMATCH',
      `${KERNEL_NAME} on wasm: inputShape has ${convInfo.inChannels} channels but the filter expects ${filterShape[2]}.`,
    );
  }
  requireShape(dy, convInfo.outShape, KERNEL_NAME, 'dy');

  const stackedChannels = convInfo.strideHeight * convInfo.strideWidth * convInfo.inChannels;
  const { strategy } = conv2dBackpropInputOptions;
  if (convInfo.batchSize > 0 && (strategy === 'phases' || (strategy === 'auto' && stackedChannels >= PHASES_MIN_STACKED_CHANNELS))) {
    return conv2dBackpropInputByPhases(backend, dy, filter, convInfo, KERNEL_NAME);
  }

  const { batchSize, outHeight, outWidth, outChannels } = convInfo;
  const patchSize = convInfo.filterHeight * convInfo.filterWidth * convInfo.inChannels;
  const dx = backend.makeOutput([...convInfo.inShape], 'float32');
  heapFloat32(backend, dx).fill(0); // malloc does not zero, and col2im accumulates
  const pixelsPerImage = outHeight * outWidth;
  if (patchSize === 0 || pixelsPerImage === 0 || outChannels === 0) return dx; // XNNPACK rejects empty operands

  const filterT = backend.makeOutput([1, outChannels, patchSize], 'float32');
  transposeInto(heapFloat32(backend, filterT), heapFloat32(backend, filter), patchSize, outChannels);
  const imagesPerChunk = Math.max(1, Math.min(batchSize, Math.floor(conv2dBackpropInputOptions.maxColumnFloats / (pixelsPerImage * patchSize))));
  try {
    for (let firstImage = 0; firstImage < batchSize; firstImage += imagesPerChunk) {
      const images = Math.min(imagesPerChunk, batchSize - firstImage);
      const rows = images * pixelsPerImage;
      // dy as the matmul's left operand: not cached by it, so a view of dy's own buffer is safe
      // when it is used whole; a chunk needs a buffer of its own (a tensor id has no offset).
      let dyChunk: tf.TensorInfo = { dataId: dy.dataId, shape: [1, rows, outChannels], dtype: 'float32' };
      const ownsChunk = images !== batchSize;
      if (ownsChunk) {
        dyChunk = backend.makeOutput([1, rows, outChannels], 'float32');
        const start = firstImage * pixelsPerImage * outChannels;
        heapFloat32(backend, dyChunk).set(heapFloat32(backend, dy).subarray(start, start + rows * outChannels));
      }
      let cols: tf.TensorInfo | null = null;
      try {
        cols = runWasmMatMul(backend, dyChunk, filterT, KERNEL_NAME);
        // Views only now: the allocations above may have grown (and so detached) the heap.
        scatterColumns(heapFloat32(backend, dx), heapFloat32(backend, cols), convInfo, firstImage, images);
      } finally {
        if (cols != null) backend.disposeData(cols.dataId);
        if (ownsChunk) backend.disposeData(dyChunk.dataId);
      }
    }
  } catch (error) {
    backend.disposeData(dx.dataId);
    throw error;
  } finally {
    backend.disposeData(filterT.dataId); // also frees the matmul's packing cached under its id
  }
  return dx;
}

/** target[c * rows + r] = source[r * columns + c]: the [rows, columns] source transposed. */
function transposeInto(target: Float32Array, source: Float32Array, rows: number, columns: number): void {
  for (let row = 0; row < rows; row++) {
    const sourceRow = row * columns;
    for (let column = 0; column < columns; column++) target[column * rows + row] = source[sourceRow + column];
  }
}

/**
 * col2im: adds each row of cols (one dy pixel's contribution to all FH*FW taps) into dx. The walk
 * follows cols sequentially; each tap adds C contiguous values into one dx pixel, and the range of
 * taps that land inside dx is computed per output row/column, so the inner loops carry no checks.
 */
function scatterColumns(dx: Float32Array, cols: Float32Array, convInfo: tf.backend_util.Conv2DInfo, firstImage: number, images: number): void {
  const { inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = convInfo;
  const padTop = convInfo.padInfo.top;
  const padLeft = convInfo.padInfo.left;
  const dxRowStride = inWidth * inChannels;
  const tapRowStride = filterWidth * inChannels;
  const patchSize = filterHeight * tapRowStride;
  let source = 0;
  for (let image = firstImage; image < firstImage + images; image++) {
    const dxImage = image * inHeight * dxRowStride;
    for (let outRow = 0; outRow < outHeight; outRow++) {
      const topRow = outRow * strideHeight - padTop;
      const firstTapRow = Math.max(0, -topRow);
      const endTapRow = Math.min(filterHeight, inHeight - topRow);
      for (let outColumn = 0; outColumn < outWidth; outColumn++, source += patchSize) {
        const leftColumn = outColumn * strideWidth - padLeft;
        const firstTapColumn = Math.max(0, -leftColumn);
        const endTapColumn = Math.min(filterWidth, inWidth - leftColumn);
        if (endTapColumn <= firstTapColumn) continue;
        const span = (endTapColumn - firstTapColumn) * inChannels;
        for (let tapRow = firstTapRow; tapRow < endTapRow; tapRow++) {
          let target = dxImage + (topRow + tapRow) * dxRowStride + (leftColumn + firstTapColumn) * inChannels;
          let from = source + tapRow * tapRowStride + firstTapColumn * inChannels;
          // The taps of one filter row hit adjacent dx pixels: one contiguous run of span values.
          for (const end = from + span; from < end; from++, target++) dx[target] += cols[from];
        }
      }
    }
  }
}
