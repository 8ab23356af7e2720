/**
 * The native backend's tensor storage: the cpu backend's, plus reuse of the float32 arrays its own
 * kernels allocate. A training step makes and drops hundreds of megabytes of short-lived arrays;
 * left to V8 that means zeroing fresh pages and a garbage collection every few steps, which cost
 * more than the arithmetic of the small kernels. Reuse is safe only for arrays nothing else can
 * see, so an array stops being reusable as soon as it escapes: when tfjs reads it out (dataSync,
 * data(), array()), or when a cpu kernel (which may return views of its inputs) receives it.
 */
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { DataId, TensorInfo } from '@tensorflow/tfjs-core';
import { GenloomError } from '../errors.ts';
import type { NativeAddon } from './addon.ts';

/**
 * The native kernels pass shapes, strides and offsets as 32-bit integers: a tensor of more
 * elements is refused with this error rather than indexed wrongly.
 */
export const MAX_NATIVE_ELEMENTS = 2 ** 31 - 1;

export function refuseOversized(elements: number, what: string): void {
  if (elements > MAX_NATIVE_ELEMENTS) {
    throw new GenloomError('TOO_COSTLY', `${what}: ${elements.toLocaleString('en-US')} elements is more than the native backend's limit of 2^31 − 1 per tensor; use smaller batches or images`);
  }
}

/** Arrays below this length are cheap to allocate and not worth tracking. */
const MIN_LENGTH = 1024;
const MAX_POOLED_BYTES = 256 * 1024 * 1024;
const MAX_PER_LENGTH = 32;

export class NativeBackend extends MathBackendCPU {
  /** The C++ kernels, for code that calls them beside tfjs's kernels (the optimizer, the KV cache). */
  addon: NativeAddon | null = null;
  private readonly reusable = new WeakSet<Float32Array>();
  private readonly free = new Map<number, Float32Array[]>();
  private pooledBytes = 0;

  constructor() {
    super();
    // The cpu backend prints an "install tfjs-node" banner on first use in Node; not for us.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** A float32 array for a kernel's output. Its contents are arbitrary: the kernel must write every element. */
  allocFloat32(length: number): Float32Array {
    refuseOversized(length, 'a native kernel\'s output');
    if (length < MIN_LENGTH) return new Float32Array(length);
    const list = this.free.get(length);
    const reused = list?.pop();
    if (reused) {
      this.pooledBytes -= reused.byteLength;
      if (list!.length === 0) this.free.delete(length);
      return reused;
    }
    const array = new Float32Array(length);
    this.reusable.add(array);
    return array;
  }

  /** Marks the arrays of these tensors as seen from outside: they will never be reused. */
  escape(infos: readonly (TensorInfo | undefined)[]): void {
    for (const info of infos) if (info) this.forget(info.dataId);
  }

  override readSync(dataId: DataId): ReturnType<MathBackendCPU['readSync']> {
    this.forget(dataId);
    return super.readSync(dataId);
  }

  private forget(dataId: DataId): void {
    const values = this.data.get(dataId)?.values;
    if (values instanceof Float32Array) this.reusable.delete(values);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const released = super.disposeData(dataId, force);
    if (released && values instanceof Float32Array && this.reusable.has(values) && !this.data.has(dataId)) this.recycle(values);
    return released;
  }

  private recycle(array: Float32Array): void {
    if (this.pooledBytes + array.byteLength > MAX_POOLED_BYTES) return;
    const list = this.free.get(array.length) ?? [];
    if (list.length >= MAX_PER_LENGTH) return;
    list.push(array);
    this.free.set(array.length, list);
    this.pooledBytes += array.byteLength;
  }
}
