/**
 * Shared plumbing for the JS kernels genloom registers on the tfjs wasm backend: reaching tensor
 * memory on the wasm heap, and the argument checks every kernel repeats.
 *
 * Memory rule every kernel here follows: a typed-array view of the wasm heap is invalidated when the
 * heap grows, and any allocation (`backend.makeOutput`, a nested kernel) may grow it. So kernels
 * allocate everything first and only then take views, and never keep a view across an allocation.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import type { DataType, TensorInfo } from '@tensorflow/tfjs-core';
import { GenloomError } from '../errors.ts';

/**
 * The `backend` argument of a kernel function is typed `{}` by tfjs; kernels registered for 'wasm'
 * only ever receive the BackendWasm instance. The check guards against a kernel being registered
 * for, or called on, the wrong backend, which would otherwise read garbage memory.
 */
export function asWasmBackend(backend: unknown, kernelName: string): BackendWasm {
  const candidate = backend as Partial<BackendWasm> | null;
  if (
    candidate == null ||
    typeof candidate.typedArrayFromHeap !== 'function' ||
    typeof candidate.makeOutput !== 'function' ||
    candidate.dataIdMap == null
  ) {
    throw new GenloomError('BACKEND', `${kernelName}: genloom's kernel needs the tfjs 'wasm' backend.`);
  }
  return candidate as BackendWasm;
}

/** A Float32Array view of a float32 tensor's data on the wasm heap (valid until the next allocation). */
export function heapFloat32(backend: BackendWasm, info: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** An Int32Array view of an int32 tensor's data on the wasm heap (valid until the next allocation). */
export function heapInt32(backend: BackendWasm, info: TensorInfo): Int32Array {
  return backend.typedArrayFromHeap(info) as Int32Array;
}

export function requireDtype(info: TensorInfo, allowed: readonly DataType[], kernelName: string, inputName: string): void {
  if (!allowed.includes(info.dtype)) {
    throw new GenloomError(
      'UNSUPPORTED',
      `${kernelName} on wasm: input '${inputName}' has dtype ${info.dtype}; supported: ${allowed.join(', ')}.`,
    );
  }
}

export function requireRank4(info: TensorInfo, kernelName: string, inputName: string): [number, number, number, number] {
  if (info.shape.length !== 4) {
    throw new GenloomError(
      'SHAPE_MISMATCH',
      `${kernelName} on wasm: input '${inputName}' must be rank 4 [batch, height, width, channels], got shape [${info.shape.join(', ')}].`,
    );
  }
  return info.shape as [number, number, number, number];
}

/**
 * dy's shape must be exactly the forward output shape the geometry implies; a mismatch would make
 * the kernels index past dy's buffer into unrelated heap memory instead of failing.
 */
export function requireShape(info: TensorInfo, expected: readonly number[], kernelName: string, inputName: string): void {
  const matches = info.shape.length === expected.length && info.shape.every((size, axis) => size === expected[axis]);
  if (!matches) {
    throw new GenloomError(
      'SHAPE_MISMATCH',
      `${kernelName} on wasm: input '${inputName}' has shape [${info.shape.join(', ')}] but the convolution geometry implies [${expected.join(', ')}].`,
    );
  }
}

/** Only NHWC ('channelsLast') is implemented; NCHW would need a different memory walk. */
export function requireNhwc(dataFormat: string | undefined, kernelName: string): void {
  if (dataFormat != null && dataFormat !== 'NHWC') {
    throw new GenloomError(
      'UNSUPPORTED',
      `${kernelName} on wasm: dataFormat '${dataFormat}' is not supported by genloom's kernel; use 'NHWC'.`,
    );
  }
}

/**
 * Property of genloom's replacement kernel functions that holds the stock config they replaced. A
 * global symbol rather than module state, so a second copy of this module (two import paths, a
 * test runner reloading it) still recognises a replacement and never wraps a wrapper.
 */
const STOCK_KERNEL = Symbol.for('genloom.wasmStockKernel');

/**
 * Replaces the stock wasm kernel `kernelName` with `makeKernelFunc(stock)`; the stock config stays
 * reachable (the closure, and stockWasmKernel) for the cases genloom's kernel hands back.
 * Idempotent. The replacement keeps the stock setupFunc: tfjs runs setup functions at setBackend
 * time, and the stock kernel function only works once its setup has bound the wasm export it
 * calls. Returns false when there is nothing to replace (the wasm backend was never imported).
 */
export function overrideWasmKernel(kernelName: string, makeKernelFunc: (stock: tf.KernelConfig) => tf.KernelFunc): boolean {
  const current = tf.getKernel(kernelName, 'wasm');
  if (current == null) return false;
  if (stockWasmKernel(kernelName) != null) return true;
  const kernelFunc = makeKernelFunc(current);
  Object.defineProperty(kernelFunc, STOCK_KERNEL, { value: current });
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ ...current, kernelFunc });
  return true;
}

/** The stock wasm kernel that genloom's registered replacement of `kernelName` wraps, or null. */
export function stockWasmKernel(kernelName: string): tf.KernelConfig | null {
  const kernel = tf.getKernel(kernelName, 'wasm');
  const stock = (kernel?.kernelFunc as unknown as Record<symbol, tf.KernelConfig | undefined> | undefined)?.[STOCK_KERNEL];
  return stock ?? null;
}

/** Calls a kernel function that must return exactly one output. */
export function runSingle(kernel: tf.KernelConfig, args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const result = kernel.kernelFunc(args as Parameters<tf.KernelFunc>[0]);
  if (Array.isArray(result)) {
    throw new GenloomError('BACKEND', `${kernel.kernelName} on wasm returned ${result.length} outputs, expected one.`);
  }
  return result;
}

/**
 * a [M, K] @ b [K, P] (any leading 1s allowed) with the registered wasm BatchMatMul, called directly
 * (as the wasm backend's kernels call each other) so nothing touches the engine, the gradient tape
 * or the tensor count; the caller owns and must dispose the returned buffer.
 *
 * Caveat the callers must respect: the wasm matmul caches its packed right operand keyed by tensor
 * id only, until that buffer is disposed. Pass a `b` that is a private, freshly written buffer and
 * dispose it right after; `a` is not cached, so a reshaped view of any tensor is fine there.
 */
export function runWasmMatMul(backend: BackendWasm, a: TensorInfo, b: TensorInfo, callerName: string): TensorInfo {
  const batchMatMul = tf.getKernel(tf.BatchMatMul, 'wasm');
  if (batchMatMul == null) {
    throw new GenloomError('BACKEND', `${callerName} on wasm needs the wasm BatchMatMul kernel, which is not registered.`);
  }
  return runSingle(batchMatMul, { inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } });
}
