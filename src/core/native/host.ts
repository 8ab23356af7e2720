/**
 * Host-memory access for code outside the kernels that works on whole parameter sets (the
 * optimizer): when the native backend is active, its addon and tensors' Float32Arrays, read
 * without marking them escaped, so the arrays stay in the backend's reuse pool.
 */
import * as tf from '../tf.ts';
import type { NativeAddon } from './addon.ts';
import type { NativeBackend } from './buffer-pool.ts';

export interface NativeHost {
  addon: NativeAddon;
  /** A float32 tensor's values; never write into them (tensors share arrays). */
  values(tensor: tf.Tensor): Float32Array;
  /** A reusable array for new values (its contents are arbitrary). */
  alloc(length: number): Float32Array;
}

/** The native backend's host access, or null when another backend is active. */
export function nativeHost(): NativeHost | null {
  if (tf.getBackend() !== 'native') return null;
  // The backend carries its addon: loading it here would pull Node's module loader into the
  // browser bundle, which reaches this file through src/layers/ops.ts.
  const backend = tf.backend() as NativeBackend;
  const addon = backend.addon;
  if (!addon) return null;
  return {
    addon,
    values: (tensor) => {
      const values = backend.data.get(tensor.dataId)?.values;
      return values instanceof Float32Array ? values : (tensor.dataSync() as Float32Array);
    },
    alloc: (length) => backend.allocFloat32(length),
  };
}
