/**
 * The kernels genloom's native backend runs in C++ instead of the cpu backend's JavaScript. Each
 * one handles the float32 cases the models use and returns null for anything else (other dtypes,
 * empty tensors, layouts the C++ does not take), and the caller then runs the cpu kernel: an
 * unsupported case is slower, never wrong.
 */
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { GenloomError } from '../errors.ts';
import type { NativeAddon } from './addon.ts';

export interface NativeKernelArgs {
  inputs: NamedTensorInfoMap;
  attrs: NamedAttrMap;
  backend: MathBackendCPU;
  addon: NativeAddon;
}

/** A native kernel: its output, or null to run the cpu backend's kernel instead. */
export type NativeKernel = (args: NativeKernelArgs) => TensorInfo | null;

type Values = Float32Array | Int32Array;

function valuesOf(backend: MathBackendCPU, info: TensorInfo): Values | null {
  const values = backend.data.get(info.dataId)?.values;
  return values instanceof Float32Array || values instanceof Int32Array ? values : null;
}

function floats(backend: MathBackendCPU, info: TensorInfo | undefined): Float32Array | null {
  if (!info || info.dtype !== 'float32' || tf.util.sizeFromShape(info.shape) === 0) return null;
  const values = valuesOf(backend, info);
  return values instanceof Float32Array ? values : null;
}

/** float32 or int32 data, for kernels that only move elements. */
function words(backend: MathBackendCPU, info: TensorInfo | undefined): Values | null {
  if (!info || (info.dtype !== 'float32' && info.dtype !== 'int32') || tf.util.sizeFromShape(info.shape) === 0) return null;
  return valuesOf(backend, info);
}

function output(backend: MathBackendCPU, shape: number[], values: Values): TensorInfo {
  return backend.makeTensorInfo(shape, values instanceof Float32Array ? 'float32' : 'int32', values);
}

function like(values: Values, size: number): Values {
  return values instanceof Float32Array ? new Float32Array(size) : new Int32Array(size);
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// ---- matrix products -------------------------------------------------------------------------

const activations: Record<string, number> = { linear: 0, relu: 1, relu6: 2, leakyrelu: 3, sigmoid: 4, elu: 5 };

function matMul({ inputs, attrs, backend, addon }: NativeKernelArgs, fused: boolean): TensorInfo | null {
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const transposeA = Boolean(attrs['transposeA']), transposeB = Boolean(attrs['transposeB']);
  const av = floats(backend, a), bv = floats(backend, b);
  if (!av || !bv || a.shape.length < 2 || b.shape.length < 2) return null;
  const ra = a.shape.length, rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!, k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!, n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (k !== kb) return null; // the cpu kernel reports the mismatch
  const batchShapeA = a.shape.slice(0, -2), batchShapeB = b.shape.slice(0, -2);
  const batchA = product(batchShapeA), batchB = product(batchShapeB);
  // Equal batches, or one side a single matrix shared by all; other broadcasts go to the cpu.
  let batchShape: number[];
  if (tf.util.arraysEqual(batchShapeA, batchShapeB)) batchShape = batchShapeA;
  else if (batchB === 1 && batchShapeB.length <= batchShapeA.length) batchShape = batchShapeA;
  else if (batchA === 1 && batchShapeA.length <= batchShapeB.length) batchShape = batchShapeB;
  else return null;
  const batch = product(batchShape);
  let bias: Float32Array | null = null;
  let activation = 0, alpha = 0;
  if (fused) {
    const biasInfo = inputs['bias'];
    if (biasInfo) {
      bias = floats(backend, biasInfo);
      if (!bias || bias.length !== n || biasInfo.shape[biasInfo.shape.length - 1] !== n) return null;
    }
    const name = String(attrs['activation'] ?? 'linear');
    if (!(name in activations)) return null; // prelu: cpu
    activation = activations[name]!;
    alpha = Number(attrs['leakyreluAlpha'] ?? 0.2);
  }
  const out = new Float32Array(batch * m * n);
  if (out.length > 0) {
    addon.matmul(av, bv, out, batch, m, n, k, batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n, transposeA, transposeB, bias, activation, alpha);
  }
  return output(backend, [...batchShape, m, n], out);
}

// ---- elementwise -----------------------------------------------------------------------------

const binaryOps = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, SquaredDifference: 6 } as const;

/** Strides of `shape` as seen from the broadcast output shape: 0 on axes it repeats. */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let stride = 1;
  for (let i = shape.length - 1, j = outShape.length - 1; i >= 0; i--, j--) {
    strides[j] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i]!;
  }
  return strides;
}

function binary(op: number): NativeKernel {
  return ({ inputs, backend, addon }) => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const av = floats(backend, a), bv = floats(backend, b);
    if (!av || !bv) return null;
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const size = product(outShape);
    if (size === 0) return null;
    const shape = outShape.length ? outShape : [1];
    const out = new Float32Array(size);
    addon.binary(op, av, bv, out, Int32Array.from(shape), Int32Array.from(broadcastStrides(a.shape, shape)), Int32Array.from(broadcastStrides(b.shape, shape)));
    return output(backend, outShape, out);
  };
}

const unaryOps = {
  Exp: 0, Log: 1, Neg: 2, Sqrt: 3, Rsqrt: 4, Square: 5, Tanh: 6, Sigmoid: 7, Relu: 8, Abs: 9, Reciprocal: 10,
  Step: 11, LeakyRelu: 12, Elu: 13, Sin: 14, Cos: 15, Relu6: 16,
} as const;

function unary(op: number, alphaDefault = 0): NativeKernel {
  return ({ inputs, attrs, backend, addon }) => {
    const x = inputs['x']!;
    const xv = floats(backend, x);
    if (!xv) return null;
    const out = new Float32Array(xv.length);
    addon.unary(op, xv, out, Number(attrs['alpha'] ?? alphaDefault));
    return output(backend, [...x.shape], out);
  };
}

// ---- reductions ------------------------------------------------------------------------------

const reduceOps = { Sum: 0, Mean: 1, Max: 2, Min: 3 } as const;

function reduction(op: number, axisAttr: string): NativeKernel {
  return ({ inputs, attrs, backend, addon }) => {
    const x = inputs['x']!;
    const xv = floats(backend, x);
    if (!xv) return null;
    const axes = tf.util.parseAxisParam(attrs[axisAttr] as number | number[], x.shape).sort((p, q) => p - q);
    if (axes.length === 0 || axes.some((axis, i) => i > 0 && axis !== axes[i - 1]! + 1)) return null; // non-adjacent axes: cpu
    const first = axes[0]!, last = axes[axes.length - 1]!;
    const outer = product(x.shape.slice(0, first)), size = product(x.shape.slice(first, last + 1)), inner = product(x.shape.slice(last + 1));
    if (size === 0) return null;
    const outShape = attrs['keepDims'] ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    const out = new Float32Array(outer * inner);
    addon.reduce(op, xv, out, outer, size, inner);
    return output(backend, outShape, out);
  };
}

const softmax: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const logits = inputs['logits']!;
  const xv = floats(backend, logits);
  const rank = logits.shape.length;
  const dim = Number(attrs['dim'] ?? -1);
  if (!xv || rank === 0 || (dim !== -1 && dim !== rank - 1)) return null;
  const cols = logits.shape[rank - 1]!;
  const out = new Float32Array(xv.length);
  addon.softmax(xv, out, xv.length / cols, cols);
  return output(backend, [...logits.shape], out);
};

// ---- layout ----------------------------------------------------------------------------------

const transpose: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const x = inputs['x']!;
  const xv = words(backend, x);
  const perm = attrs['perm'] as number[];
  if (!xv || x.shape.length === 0) return null;
  const out = like(xv, xv.length);
  addon.transpose(xv, out, Int32Array.from(x.shape), Int32Array.from(perm));
  return output(backend, perm.map((axis) => x.shape[axis]!), out);
};

const gatherV2: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const { x, indices } = inputs as { x: TensorInfo; indices: TensorInfo };
  const xv = words(backend, x);
  const iv = indices.dtype === 'int32' ? valuesOf(backend, indices) : null;
  if (!xv || !(iv instanceof Int32Array) || iv.length === 0 || Number(attrs['batchDims'] ?? 0) !== 0) return null;
  const axis = tf.util.parseAxisParam(attrs['axis'] as number, x.shape)[0]!;
  const outer = product(x.shape.slice(0, axis)), axisSize = x.shape[axis]!, inner = product(x.shape.slice(axis + 1));
  const out = like(xv, outer * iv.length * inner);
  const bad = addon.gather(xv, iv, out, outer, axisSize, inner);
  if (bad >= 0) throw new GenloomError('BAD_ARGUMENT', `GatherV2: the index value ${iv[bad]} is not in [0, ${axisSize - 1}]`);
  return output(backend, [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], out);
};

const unsortedSegmentSum: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const xv = floats(backend, x);
  const ids = segmentIds.dtype === 'int32' ? valuesOf(backend, segmentIds) : null;
  const segments = Number(attrs['numSegments']);
  if (!xv || !(ids instanceof Int32Array) || segmentIds.shape.length !== 1 || ids.length !== x.shape[0] || !(segments > 0)) return null;
  const inner = product(x.shape.slice(1));
  const out = new Float32Array(segments * inner);
  addon.unsortedSegmentSum(xv, ids, out, inner, segments);
  return output(backend, [segments, ...x.shape.slice(1)], out);
};

// ---- convolution -----------------------------------------------------------------------------

type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

function geometry(info: Conv2DInfo): Int32Array {
  return Int32Array.from([
    info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels,
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
    info.padInfo.top, info.padInfo.left,
  ]);
}

function convInfo(xShape: number[], filterShape: number[], attrs: NamedAttrMap, dilations: number | [number, number]): Conv2DInfo | null {
  const dataFormat = tf.backend_util.convertConv2DDataFormat(String(attrs['dataFormat'] ?? 'NHWC') as 'NHWC' | 'NCHW');
  if (dataFormat !== 'channelsLast' || xShape.length !== 4 || filterShape.length !== 4) return null;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number],
    attrs['strides'] as [number, number], dilations, attrs['pad'] as 'same', attrs['dimRoundingMode'] as 'round' | undefined, false, dataFormat,
  );
  return info.outHeight > 0 && info.outWidth > 0 ? info : null;
}

const conv2d: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
  const xv = floats(backend, x), fv = floats(backend, filter);
  const info = xv && fv ? convInfo(x.shape, filter.shape, attrs, (attrs['dilations'] as [number, number]) ?? 1) : null;
  if (!info || info.inChannels !== filter.shape[2]) return null;
  const out = new Float32Array(product(info.outShape));
  addon.conv2d(xv!, fv!, out, geometry(info));
  return output(backend, info.outShape, out);
};

const conv2dBackpropInput: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const dyv = floats(backend, dy), fv = floats(backend, filter);
  const inputShape = attrs['inputShape'] as number[];
  const info = dyv && fv ? convInfo(inputShape, filter.shape, attrs, 1) : null;
  if (!info || !tf.util.arraysEqual(info.outShape, dy.shape)) return null;
  const out = new Float32Array(product(inputShape));
  addon.conv2dBackpropInput(dyv!, fv!, out, geometry(info));
  return output(backend, [...inputShape], out);
};

const conv2dBackpropFilter: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const xv = floats(backend, x), dyv = floats(backend, dy);
  const filterShape = attrs['filterShape'] as number[];
  const info = xv && dyv ? convInfo(x.shape, filterShape, attrs, 1) : null;
  if (!info || !tf.util.arraysEqual(info.outShape, dy.shape)) return null;
  const out = new Float32Array(product(filterShape));
  addon.conv2dBackpropFilter(xv!, dyv!, out, geometry(info));
  return output(backend, [...filterShape], out);
};

/** Kernel name → native implementation. */
export const nativeKernels: Record<string, NativeKernel> = {
  [tf.BatchMatMul]: (args) => matMul(args, false),
  [tf._FusedMatMul]: (args) => matMul(args, true),
  ...Object.fromEntries(Object.entries(binaryOps).map(([name, op]) => [name, binary(op)])),
  ...Object.fromEntries(Object.entries(unaryOps).map(([name, op]) => [name, unary(op, name === 'LeakyRelu' ? 0.2 : 0)])),
  [tf.Sum]: reduction(reduceOps.Sum, 'axis'),
  [tf.Mean]: reduction(reduceOps.Mean, 'axis'),
  [tf.Max]: reduction(reduceOps.Max, 'reductionIndices'),
  [tf.Min]: reduction(reduceOps.Min, 'axis'),
  [tf.Softmax]: softmax,
  [tf.Transpose]: transpose,
  [tf.GatherV2]: gatherV2,
  [tf.UnsortedSegmentSum]: unsortedSegmentSum,
  [tf.Conv2D]: conv2d,
  [tf.Conv2DBackpropInput]: conv2dBackpropInput,
  [tf.Conv2DBackpropFilter]: conv2dBackpropFilter,
};
