/**
 * The kernels genloom's native backend runs in C++ instead of the cpu backend's JavaScript. Each
 * one handles the float32 cases the models use and returns null for anything else (other dtypes,
 * empty tensors, layouts the C++ does not take), and the caller then runs the cpu kernel: an
 * unsupported case is slower, never wrong.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { GenloomError } from '../errors.ts';
import type { NativeAddon } from './addon.ts';
import type { NativeBackend } from './buffer-pool.ts';

export interface NativeKernelArgs {
  inputs: NamedTensorInfoMap;
  attrs: NamedAttrMap;
  backend: NativeBackend;
  addon: NativeAddon;
}

/** A native kernel: its output(s), or null to run the cpu backend's kernel instead. */
export type NativeKernel = (args: NativeKernelArgs) => TensorInfo | TensorInfo[] | null;

type Values = Float32Array | Int32Array;

function valuesOf(backend: NativeBackend, info: TensorInfo): Values | null {
  const values = backend.data.get(info.dataId)?.values;
  return values instanceof Float32Array || values instanceof Int32Array ? values : null;
}

/**
 * Below this many elements a unary op, or a binary op without broadcasting, runs on the cpu
 * backend: its plain JavaScript loop beats the cost of reaching C++ (measured: about 2.6 µs per
 * tiny add against 7 µs). Every other kernel goes to C++ at any size: the cpu backend's
 * broadcasting, transposes, slices and reductions compute an index per element and are slower.
 */
export const nativeTuning = { smallTensor: 2048 };

function small(size: number): boolean {
  return size < nativeTuning.smallTensor;
}

function floats(backend: NativeBackend, info: TensorInfo | undefined): Float32Array | null {
  if (!info || info.dtype !== 'float32' || tf.util.sizeFromShape(info.shape) === 0) return null;
  // A float32 tensor can hold an integer array only where the cpu backend's cast made it; the
  // native Cast below makes real floats, so this is a cpu-kernel result and the cpu takes it.
  const values = backend.data.get(info.dataId)?.values;
  return values instanceof Float32Array ? values : null;
}

/** float32 or int32 data, for kernels that only move elements. */
function words(backend: NativeBackend, info: TensorInfo | undefined): Values | null {
  if (!info || (info.dtype !== 'float32' && info.dtype !== 'int32') || tf.util.sizeFromShape(info.shape) === 0) return null;
  return valuesOf(backend, info);
}

function output(backend: NativeBackend, shape: number[], values: Values): TensorInfo {
  return backend.makeTensorInfo(shape, values instanceof Float32Array ? 'float32' : 'int32', values);
}

function like(backend: NativeBackend, values: Values, size: number): Values {
  return values instanceof Float32Array ? backend.allocFloat32(size) : new Int32Array(size);
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
  const out = backend.allocFloat32(batch * m * n);
  if (out.length > 0) {
    addon.matmul(av, bv, out, batch, m, n, k, batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n, transposeA, transposeB, bias, activation, alpha);
  }
  return output(backend, [...batchShape, m, n], out);
}

// ---- elementwise -----------------------------------------------------------------------------

const binaryOps = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, SquaredDifference: 6, Pow: 7 } as const;
const compareOps = { Greater: 0, GreaterEqual: 1, Less: 2, LessEqual: 3, Equal: 4, NotEqual: 5 } as const;

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

/** Float32 binary ops with broadcasting; comparisons write bool (0/1 bytes). */
function binary(op: number, comparison = false): NativeKernel {
  return ({ inputs, backend, addon }) => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const av = floats(backend, a), bv = floats(backend, b);
    if (!av || !bv) return null;
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const size = product(outShape);
    const plain = tf.util.arraysEqual(a.shape, b.shape) || a.shape.length === 0 || b.shape.length === 0;
    if (size === 0 || (plain && small(size))) return null;
    const dims = outShape.length ? outShape : [1];
    const shape = Int32Array.from(dims);
    const stridesA = Int32Array.from(broadcastStrides(a.shape, dims)), stridesB = Int32Array.from(broadcastStrides(b.shape, dims));
    if (comparison) {
      const out = new Uint8Array(size);
      addon.compare(op, av, bv, out, shape, stridesA, stridesB);
      return backend.makeTensorInfo(outShape, 'bool', out);
    }
    const out = backend.allocFloat32(size);
    addon.binary(op, av, bv, out, shape, stridesA, stridesB);
    return output(backend, outShape, out);
  };
}

const select: NativeKernel = ({ inputs, backend, addon }) => {
  const { condition, t, e } = inputs as { condition: TensorInfo; t: TensorInfo; e: TensorInfo };
  const tv = floats(backend, t), ev = floats(backend, e);
  const cv = condition.dtype === 'bool' ? backend.data.get(condition.dataId)?.values : null;
  if (!tv || !ev || !(cv instanceof Uint8Array) || cv.length !== tv.length || !tf.util.arraysEqual(t.shape, e.shape)) return null;
  const out = backend.allocFloat32(tv.length);
  addon.select(cv, tv, ev, out);
  return output(backend, [...t.shape], out);
};

const unaryOps = {
  Exp: 0, Log: 1, Neg: 2, Sqrt: 3, Rsqrt: 4, Square: 5, Tanh: 6, Sigmoid: 7, Relu: 8, Abs: 9, Reciprocal: 10,
  Step: 11, LeakyRelu: 12, Elu: 13, Sin: 14, Cos: 15, Relu6: 16, Log1p: 17, Softplus: 18,
} as const;

function unary(op: number, alphaDefault = 0): NativeKernel {
  return ({ inputs, attrs, backend, addon }) => {
    const x = inputs['x']!;
    const xv = floats(backend, x);
    if (!xv || small(xv.length)) return null;
    const out = backend.allocFloat32(xv.length);
    addon.unary(op, xv, out, Number(attrs['alpha'] ?? alphaDefault));
    return output(backend, [...x.shape], out);
  };
}

// ---- reductions ------------------------------------------------------------------------------

const reduceOps = { Sum: 0, Mean: 1, Max: 2, Min: 3 } as const;

function reduction(op: number, axisAttr: string): NativeKernel {
  return ({ inputs, attrs, backend, addon }) => {
    const x = inputs['x']!;
    let xv = floats(backend, x);
    if (!xv) return null;
    const axes = tf.util.parseAxisParam(attrs[axisAttr] as number | number[], x.shape).sort((p, q) => p - q);
    if (axes.length === 0) return null;
    const outShape = attrs['keepDims'] ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    let shape = [...x.shape];
    let first = axes[0]!, last = axes[axes.length - 1]!;
    if (last - first + 1 !== axes.length) {
      // Axes apart (group norm's [1, 2, 4]): move them to the end in one copy, then reduce rows.
      const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
      const moved = backend.allocFloat32(xv.length);
      shape = permute(addon, xv, shape, [...kept, ...axes], moved);
      xv = moved;
      first = kept.length;
      last = shape.length - 1;
    }
    const outer = product(shape.slice(0, first)), size = product(shape.slice(first, last + 1)), inner = product(shape.slice(last + 1));
    if (size === 0) return null;
    const out = backend.allocFloat32(outer * inner);
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
  const out = backend.allocFloat32(xv.length);
  addon.softmax(xv, out, xv.length / cols, cols);
  return output(backend, [...logits.shape], out);
};

/** Casting int32 or bool to float32 makes real floats, so the kernels after it take the fast path. */
const cast: NativeKernel = ({ inputs, attrs, backend }) => {
  const x = inputs['x']!;
  if (attrs['dtype'] !== 'float32' || (x.dtype !== 'int32' && x.dtype !== 'bool')) return null;
  const values = backend.data.get(x.dataId)?.values;
  if (!(values instanceof Int32Array || values instanceof Uint8Array)) return null;
  const out = backend.allocFloat32(values.length);
  out.set(values);
  return output(backend, [...x.shape], out);
};

// ---- layout ----------------------------------------------------------------------------------

function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) strides[i] = strides[i + 1]! * shape[i + 1]!;
  return strides;
}

/** Writes x (of `shape`) transposed by `perm` into out; returns the transposed shape. */
function permute(addon: NativeAddon, x: Values, shape: readonly number[], perm: readonly number[], out: Values): number[] {
  const strides = stridesOf(shape);
  const outShape = perm.map((axis) => shape[axis]!);
  copyBlock(addon, x, 0, perm.map((axis) => strides[axis]!), out, 0, stridesOf(outShape), outShape);
  return outShape;
}

/** Copies a `shape` block from src (at srcOffset, srcStrides) into dst (at dstOffset, dstStrides). */
function copyBlock(addon: NativeAddon, src: Values, srcOffset: number, srcStrides: number[], dst: Values, dstOffset: number, dstStrides: number[], shape: number[]): void {
  if (shape.length === 0) return void (dst[dstOffset] = src[srcOffset]!);
  addon.copy(src, srcOffset, Int32Array.from(srcStrides), dst, dstOffset, Int32Array.from(dstStrides), Int32Array.from(shape));
}

const transpose: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const x = inputs['x']!;
  const xv = words(backend, x);
  const perm = attrs['perm'] as number[];
  if (!xv || x.shape.length === 0) return null;
  const out = like(backend, xv, xv.length);
  return output(backend, permute(addon, xv, x.shape, perm, out), out);
};

const slice: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const x = inputs['x']!;
  const xv = words(backend, x);
  if (!xv || x.shape.length === 0) return null;
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs['begin'] as number[], attrs['size'] as number[]);
  tf.slice_util.assertParamsValid(x as tf.Tensor, begin, size);
  // A contiguous slice is a zero-copy view in the cpu kernel: nothing to gain.
  if (product(size) === 0 || tf.slice_util.isSliceContinous(x.shape, begin, size)) return null;
  const strides = stridesOf(x.shape);
  const out = like(backend, xv, product(size));
  copyBlock(addon, xv, begin.reduce((sum, b, i) => sum + b * strides[i]!, 0), strides, out, 0, stridesOf(size), size);
  return output(backend, size, out);
};

const splitV: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const x = inputs['x']!;
  const xv = words(backend, x);
  if (!xv) return null;
  const axis = tf.util.parseAxisParam(attrs['axis'] as number, x.shape)[0]!;
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs['numOrSizeSplits'] as number[], axis);
  const strides = stridesOf(x.shape);
  let start = 0;
  return sizes.map((length) => {
    const shape = [...x.shape];
    shape[axis] = length;
    const out = like(backend, xv, product(shape));
    copyBlock(addon, xv, start * strides[axis]!, strides, out, 0, stridesOf(shape), shape);
    start += length;
    return output(backend, shape, out);
  });
};

/** Unpack (tf.unstack): one strided copy per slice; the cpu kernel slices generically, element by element. */
const unpack: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const x = inputs['value']!;
  const xv = words(backend, x);
  if (!xv) return null;
  const axis = tf.util.parseAxisParam(attrs['axis'] as number, x.shape)[0]!;
  const strides = stridesOf(x.shape);
  const shape = x.shape.filter((_, i) => i !== axis);
  const sliceStrides = strides.filter((_, i) => i !== axis);
  return Array.from({ length: x.shape[axis]! }, (_, index) => {
    const out = like(backend, xv, product(shape));
    copyBlock(addon, xv, index * strides[axis]!, sliceStrides, out, 0, stridesOf(shape), shape);
    return output(backend, shape, out);
  });
};

const concat: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const parts = Object.values(inputs) as TensorInfo[];
  const values = parts.map((part) => words(backend, part));
  const dtype = parts[0]?.dtype;
  if (parts.length < 2 || parts.some((part, i) => part.dtype !== dtype || !values[i])) return null;
  const axis = tf.util.parseAxisParam(attrs['axis'] as number, parts[0]!.shape)[0]!;
  tf.backend_util.assertParamsConsistent(parts.map((part) => part.shape), axis);
  const outShape = tf.backend_util.computeOutShape(parts.map((part) => part.shape), axis);
  const outStrides = stridesOf(outShape);
  const out = like(backend, values[0]!, product(outShape));
  let start = 0;
  parts.forEach((part, i) => {
    copyBlock(addon, values[i]!, 0, stridesOf(part.shape), out, start * outStrides[axis]!, outStrides, [...part.shape]);
    start += part.shape[axis]!;
  });
  return output(backend, outShape, out);
};

const padV2: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const x = inputs['x']!;
  const xv = words(backend, x);
  const paddings = attrs['paddings'] as [number, number][];
  if (!xv || x.shape.length === 0) return null;
  const outShape = x.shape.map((d, i) => paddings[i]![0] + d + paddings[i]![1]);
  const outStrides = stridesOf(outShape);
  const out = like(backend, xv, product(outShape));
  out.fill(Number(attrs['constantValue'] ?? 0));
  copyBlock(addon, xv, 0, stridesOf(x.shape), out, paddings.reduce((sum, [before], i) => sum + before * outStrides[i]!, 0), outStrides, [...x.shape]);
  return output(backend, outShape, out);
};

const gatherV2: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const { x, indices } = inputs as { x: TensorInfo; indices: TensorInfo };
  const xv = words(backend, x);
  const iv = indices.dtype === 'int32' ? valuesOf(backend, indices) : null;
  if (!xv || !(iv instanceof Int32Array) || iv.length === 0 || Number(attrs['batchDims'] ?? 0) !== 0) return null;
  const axis = tf.util.parseAxisParam(attrs['axis'] as number, x.shape)[0]!;
  const outer = product(x.shape.slice(0, axis)), axisSize = x.shape[axis]!, inner = product(x.shape.slice(axis + 1));
  const out = like(backend, xv, outer * iv.length * inner);
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
  const out = backend.allocFloat32(segments * inner);
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
  const out = backend.allocFloat32(product(info.outShape));
  addon.conv2d(xv!, fv!, out, geometry(info));
  return output(backend, info.outShape, out);
};

/** Conv2D + bias + activation (tf.fused.conv2d): the bias and activation run in the GEMM's epilogue. */
const fusedConv2d: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const { x, filter, bias } = inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo };
  const xv = floats(backend, x), fv = floats(backend, filter);
  const info = xv && fv ? convInfo(x.shape, filter.shape, attrs, (attrs['dilations'] as [number, number]) ?? 1) : null;
  const name = String(attrs['activation'] ?? 'linear');
  if (!info || info.inChannels !== filter.shape[2] || !(name in activations) || inputs['preluActivationWeights']) return null;
  let biasValues: Float32Array | null = null;
  if (bias) {
    biasValues = floats(backend, bias);
    if (!biasValues || biasValues.length !== info.outChannels) return null; // a broadcast bias: cpu
  }
  const out = backend.allocFloat32(product(info.outShape));
  addon.conv2dFused(xv!, fv!, out, geometry(info), biasValues, activations[name]!, Number(attrs['leakyreluAlpha'] ?? 0.2));
  return output(backend, info.outShape, out);
};

const conv2dBackpropInput: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const dyv = floats(backend, dy), fv = floats(backend, filter);
  const inputShape = attrs['inputShape'] as number[];
  const info = dyv && fv ? convInfo(inputShape, filter.shape, attrs, 1) : null;
  if (!info || !tf.util.arraysEqual(info.outShape, dy.shape)) return null;
  const out = backend.allocFloat32(product(inputShape));
  addon.conv2dBackpropInput(dyv!, fv!, out, geometry(info));
  return output(backend, [...inputShape], out);
};

const conv2dBackpropFilter: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const xv = floats(backend, x), dyv = floats(backend, dy);
  const filterShape = attrs['filterShape'] as number[];
  const info = xv && dyv ? convInfo(x.shape, filterShape, attrs, 1) : null;
  if (!info || !tf.util.arraysEqual(info.outShape, dy.shape)) return null;
  const out = backend.allocFloat32(product(filterShape));
  addon.conv2dBackpropFilter(xv!, dyv!, out, geometry(info));
  return output(backend, [...filterShape], out);
};

// ---- resizing ----------------------------------------------------------------------------------

/**
 * Which source row (or column) each output row takes, by the cpu kernel's formula (so the same
 * pixels): floor (or, aligning corners, round) of the scaled index, half-pixel centres optional.
 */
function nearestMap(oldSize: number, newSize: number, alignCorners: boolean, halfPixelCenters: boolean): Int32Array {
  const ratio = (alignCorners && newSize > 1 ? oldSize - 1 : oldSize) / (alignCorners && newSize > 1 ? newSize - 1 : newSize);
  return Int32Array.from({ length: newSize }, (_, i) => {
    const fraction = halfPixelCenters ? ratio * (i + 0.5) : ratio * i;
    const nearest = Math.min(oldSize - 1, alignCorners ? Math.round(fraction) : Math.floor(fraction));
    return halfPixelCenters ? Math.max(0, nearest) : nearest;
  });
}

const resizeNearestNeighbor: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const images = inputs['images']!;
  const xv = words(backend, images);
  if (!xv || images.shape.length !== 4) return null;
  const [batch, height, width, channels] = images.shape as [number, number, number, number];
  const [newHeight, newWidth] = attrs['size'] as [number, number];
  const alignCorners = Boolean(attrs['alignCorners']), halfPixelCenters = Boolean(attrs['halfPixelCenters']);
  const out = like(backend, xv, batch * newHeight * newWidth * channels);
  if (out.length === 0) return null;
  addon.resizeNearest(xv, out, batch, height, width, channels, nearestMap(height, newHeight, alignCorners, halfPixelCenters), nearestMap(width, newWidth, alignCorners, halfPixelCenters));
  return output(backend, [batch, newHeight, newWidth, channels], out);
};

/**
 * The exact adjoint of the forward copy. (The cpu kernel is not, for halfPixelCenters, which it
 * ignores, and for batches, where it reads dy at the images' batch stride.)
 */
const resizeNearestNeighborGrad: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const { images, dy } = inputs as { images: TensorInfo; dy: TensorInfo };
  const dyv = floats(backend, dy);
  if (!dyv || images.shape.length !== 4 || dy.shape.length !== 4) return null;
  const [batch, height, width, channels] = images.shape as [number, number, number, number];
  const alignCorners = Boolean(attrs['alignCorners']), halfPixelCenters = Boolean(attrs['halfPixelCenters']);
  const dx = backend.allocFloat32(batch * height * width * channels);
  addon.resizeNearestGrad(dyv, dx, batch, height, width, channels, nearestMap(height, dy.shape[1]!, alignCorners, halfPixelCenters), nearestMap(width, dy.shape[2]!, alignCorners, halfPixelCenters));
  return output(backend, [...images.shape], dx);
};

/** Kernel name → native implementation. */
export const nativeKernels: Record<string, NativeKernel> = {
  [tf.BatchMatMul]: (args) => matMul(args, false),
  [tf._FusedMatMul]: (args) => matMul(args, true),
  ...Object.fromEntries(Object.entries(binaryOps).map(([name, op]) => [name, binary(op)])),
  ...Object.fromEntries(Object.entries(compareOps).map(([name, op]) => [name, binary(op, true)])),
  [tf.Select]: select,
  ...Object.fromEntries(Object.entries(unaryOps).map(([name, op]) => [name, unary(op, name === 'LeakyRelu' ? 0.2 : 0)])),
  [tf.Sum]: reduction(reduceOps.Sum, 'axis'),
  [tf.Mean]: reduction(reduceOps.Mean, 'axis'),
  [tf.Max]: reduction(reduceOps.Max, 'reductionIndices'),
  [tf.Min]: reduction(reduceOps.Min, 'axis'),
  [tf.Softmax]: softmax,
  [tf.Cast]: cast,
  [tf.Transpose]: transpose,
  [tf.Slice]: slice,
  [tf.SplitV]: splitV,
  [tf.Unpack]: unpack,
  [tf.Concat]: concat,
  [tf.PadV2]: padV2,
  [tf.GatherV2]: gatherV2,
  [tf.UnsortedSegmentSum]: unsortedSegmentSum,
  [tf.Conv2D]: conv2d,
  [tf.FusedConv2D]: fusedConv2d,
  [tf.ResizeNearestNeighbor]: resizeNearestNeighbor,
  [tf.ResizeNearestNeighborGrad]: resizeNearestNeighborGrad,
  [tf.Conv2DBackpropInput]: conv2dBackpropInput,
  [tf.Conv2DBackpropFilter]: conv2dBackpropFilter,
};
