/**
 * UnsortedSegmentSum for the tfjs wasm backend (tfjs 4.22 ships none). It is the gradient of
 * gather, so every embedding lookup needs it to train on wasm.
 *
 *   out[s, ...inner] = sum over i with segmentIds[i] == s of x[i, ...inner]
 *   out shape: [numSegments, ...x.shape.slice(segmentIds.rank)]
 * segmentIds may have any rank as long as it is a prefix of x's shape (TensorFlow's semantics; for
 * the rank-1 ids tfjs passes, that is x.shape[0]). Ids outside [0, numSegments) contribute nothing,
 * like the cpu backend; segments no id names stay 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GenloomError } from '../errors.ts';
import { asWasmBackend, heapInt32, requireDtype } from './wasm-kernel-util.ts';

const KERNEL_NAME = tf.UnsortedSegmentSum;

export const unsortedSegmentSumWasmConfig: tf.KernelConfig = {
  kernelName: KERNEL_NAME,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSumWasm as unknown as tf.KernelFunc,
};

export function unsortedSegmentSumWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend = asWasmBackend(args.backend, KERNEL_NAME);
  const { x, segmentIds } = args.inputs as unknown as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const { numSegments } = args.attrs as unknown as tf.UnsortedSegmentSumAttrs;

  requireDtype(x, ['float32', 'int32'], KERNEL_NAME, 'x');
  requireDtype(segmentIds, ['int32'], KERNEL_NAME, 'segmentIds');
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new GenloomError('BAD_ARGUMENT', `${KERNEL_NAME} on wasm: numSegments must be a non-negative integer, got ${numSegments}.`);
  }
  const idsRank = segmentIds.shape.length;
  const idsArePrefix = idsRank <= x.shape.length && segmentIds.shape.every((size, axis) => size === x.shape[axis]);
  if (!idsArePrefix) {
    throw new GenloomError(
      'SHAPE_MISMATCH',
      `${KERNEL_NAME} on wasm: segmentIds shape [${segmentIds.shape.join(', ')}] must be a prefix of x's shape [${x.shape.join(', ')}].`,
    );
  }

  const innerShape = x.shape.slice(idsRank);
  // Elements of x (and of out) per segment id; computed from the shape, not size(x)/size(ids), so
  // it stays right when there are no ids at all.
  const innerSize = tf.util.sizeFromShape(innerShape);
  const idCount = tf.util.sizeFromShape(segmentIds.shape);

  const output = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  // float32 and int32 are both 4-byte elements, and summing int32 data through an Int32Array wraps
  // on overflow like int32 arithmetic should; float32 data goes through a Float32Array.
  const xValues = x.dtype === 'float32' ? (backend.typedArrayFromHeap(x) as Float32Array) : heapInt32(backend, x);
  const idValues = heapInt32(backend, segmentIds);
  const outValues = x.dtype === 'float32' ? (backend.typedArrayFromHeap(output) as Float32Array) : heapInt32(backend, output);
  outValues.fill(0);

  // Each id's slice of x and its segment's slice of out are contiguous, so the inner loop is a
  // sequential vector add regardless of the order of the ids.
  for (let idIndex = 0, source = 0; idIndex < idCount; idIndex++, source += innerSize) {
    const segment = idValues[idIndex];
    if (segment < 0 || segment >= numSegments) continue;
    const target = segment * innerSize;
    for (let element = 0; element < innerSize; element++) {
      outValues[target + element] += xValues[source + element];
    }
  }
  return output;
}
