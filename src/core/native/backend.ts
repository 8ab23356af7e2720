/**
 * The `native` tfjs backend: a cpu backend (same tensor storage, every cpu kernel available) whose
 * hot kernels run in genloom's multi-threaded C++ (native/). Anything the C++ does not take falls
 * back to the cpu kernel of the same name.
 */
import * as tf from '../tf.ts';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { loadNativeAddon, type NativeAddon } from './addon.ts';
import { NativeBackend, refuseOversized } from './buffer-pool.ts';
import { fusedKernels } from './fused-kernels.ts';
import { nativeKernels } from './kernels.ts';

export const NATIVE_BACKEND = 'native';

let registered = false;

/** Registers the backend once; false when the addon is not built here. */
export function registerNativeBackend(): boolean {
  if (registered) return true;
  const addon = loadNativeAddon();
  if (!addon) return false;
  tf.registerBackend(NATIVE_BACKEND, () => {
    const backend = new NativeBackend();
    backend.addon = addon;
    return backend;
  }, 0);
  // The kernel registry is keyed by backend name, so the cpu kernels must be copied to ours.
  for (const kernel of tf.getKernelsForBackend('cpu')) {
    const override = nativeKernels[kernel.kernelName];
    const cpu = cpuKernel(kernel.kernelFunc);
    const kernelFunc: KernelFunc = override ? withFallback(addon, kernel.kernelName, override, cpu) : cpu;
    tf.registerKernel({ ...kernel, backendName: NATIVE_BACKEND, kernelFunc });
  }
  // Fused kernels exist on this backend only; src/layers/ops.ts composes them elsewhere.
  for (const [kernelName, kernel] of Object.entries(fusedKernels)) {
    tf.registerKernel({ kernelName, backendName: NATIVE_BACKEND, kernelFunc: (args) => kernel({ inputs: args.inputs, attrs: args.attrs ?? {}, backend: args.backend as NativeBackend, addon })! });
  }
  registered = true;
  return true;
}

/** How many times each overridden kernel fell back to the cpu backend's, since the last reset. */
export const nativeFallbacks = new Map<string, number>();

/** A cpu kernel may return views of its inputs, so what it is given is never reused. */
function cpuKernel(kernelFunc: KernelFunc): KernelFunc {
  return (args) => {
    (args.backend as NativeBackend).escape(Object.values(args.inputs) as TensorInfo[]);
    return kernelFunc(args);
  };
}

function withFallback(addon: NativeAddon, kernelName: string, native: (typeof nativeKernels)[string], cpu: KernelFunc): KernelFunc {
  return (args) => {
    for (const input of Object.values(args.inputs) as (TensorInfo | undefined)[]) if (input) refuseOversized(tf.util.sizeFromShape(input.shape), kernelName);
    const result = native({ inputs: args.inputs, attrs: args.attrs ?? {}, backend: args.backend as NativeBackend, addon });
    if (result) return result;
    nativeFallbacks.set(kernelName, (nativeFallbacks.get(kernelName) ?? 0) + 1);
    return cpu(args);
  };
}

/** What the native backend runs on (GEMM micro-kernel, threads), for the benchmarks' headers. */
export function nativeBackendInfo(): { isa: string; threads: number } | null {
  const addon = loadNativeAddon();
  return addon ? { isa: addon.isa(), threads: addon.threads() } : null;
}
