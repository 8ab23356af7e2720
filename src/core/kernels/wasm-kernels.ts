/**
 * Kernels that training needs but @tensorflow/tfjs-backend-wasm 4.22 does not ship, implemented in
 * JS over the wasm heap and registered for backendName 'wasm':
 *   - Conv2DBackpropFilter                 (weight gradient of conv2d / conv2dTranspose)
 *   - DepthwiseConv2dNativeBackpropFilter  (weight gradient of depthwiseConv2d)
 *   - DepthwiseConv2dNativeBackpropInput   (input gradient of depthwiseConv2d)
 *   - UnsortedSegmentSum                   (gradient of gather, i.e. of every embedding)
 * (Einsum and FFT are also missing on wasm; nothing in genloom needs them.)
 *
 * It also replaces two stock wasm kernels that are correct but slow where training needs them:
 *   - BatchMatMul          (transposed and broadcast-batch forms rewritten onto XNNPACK's fast path)
 *   - Conv2DBackpropInput  (GEMM + col2im instead of a scalar loop; conv2dTranspose's forward pass)
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2dBackpropFilterWasmConfig } from './wasm-conv2d-backprop-filter.ts';
import { depthwiseConv2dBackpropFilterWasmConfig, depthwiseConv2dBackpropInputWasmConfig } from './wasm-depthwise-backprop.ts';
import { unsortedSegmentSumWasmConfig } from './wasm-unsorted-segment-sum.ts';
import { registerWasmBatchMatMul } from './wasm-batch-matmul.ts';
import { registerWasmConv2DBackpropInput } from './wasm-conv2d-backprop-input.ts';

export const WASM_KERNEL_CONFIGS: readonly tf.KernelConfig[] = [
  conv2dBackpropFilterWasmConfig,
  depthwiseConv2dBackpropFilterWasmConfig,
  depthwiseConv2dBackpropInputWasmConfig,
  unsortedSegmentSumWasmConfig,
];

/** Stock wasm kernels that registerWasmKernels replaces with genloom's faster versions. */
export const WASM_KERNEL_OVERRIDES: readonly string[] = [tf.BatchMatMul, tf.Conv2DBackpropInput];

/**
 * Registers genloom's wasm kernels. Idempotent: a kernel already registered for 'wasm' (by an
 * earlier call, or natively by a future tfjs version) is left alone, because tfjs warns and
 * overwrites on re-registration; the replacements of stock kernels are marked and never wrapped
 * twice. Safe to call before or after the wasm backend is initialised: the engine looks kernels up
 * at call time, the added kernels need no setup function, and the replacements carry the stock
 * setup function over (it binds the wasm exports the stock kernels they fall back to call).
 * Needs '@tensorflow/tfjs-backend-wasm' imported first, or there is nothing to replace.
 */
export function registerWasmKernels(): void {
  for (const config of WASM_KERNEL_CONFIGS) {
    if (tf.getKernel(config.kernelName, config.backendName) == null) {
      tf.registerKernel(config);
    }
  }
  registerWasmBatchMatMul();
  registerWasmConv2DBackpropInput();
}
