/**
 * Fused kernels of the native backend: each replaces a chain of tfjs kernels (a layer norm is
 * about 12 forward and 20 backward; causal attention about 30) with one C++ call forward and one
 * backward. Other backends do not have them: src/layers/ops.ts asks whether the active backend
 * has a kernel (hasFusedKernel) and otherwise composes the same function from tfjs ops, so every
 * fused kernel has its composed reference, and the tests compare the two.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { GenloomError } from '../errors.ts';
import type { NativeKernel } from './kernels.ts';
import type { NativeBackend } from './buffer-pool.ts';

export const FusedKernel = {
  LayerNorm: 'GenloomLayerNorm',
  LayerNormGrad: 'GenloomLayerNormGrad',
  GroupNorm: 'GenloomGroupNorm',
  GroupNormGrad: 'GenloomGroupNormGrad',
  Gelu: 'GenloomGelu',
  GeluGrad: 'GenloomGeluGrad',
  SoftmaxCrossEntropy: 'GenloomSoftmaxCrossEntropy',
  SoftmaxCrossEntropyGrad: 'GenloomSoftmaxCrossEntropyGrad',
  CausalAttention: 'GenloomCausalAttention',
  CausalAttentionGrad: 'GenloomCausalAttentionGrad',
  LstmSequence: 'GenloomLstmSequence',
  LstmSequenceGrad: 'GenloomLstmSequenceGrad',
  GruSequence: 'GenloomGruSequence',
  GruSequenceGrad: 'GenloomGruSequenceGrad',
} as const;

/**
 * A tensor's values as float32 in host memory, read without marking them as escaped (they stay
 * reusable). Float32 tensors the cpu backend's cast made can hold other arrays: copied then.
 */
function hostFloats(backend: NativeBackend, info: TensorInfo | undefined, what: string): Float32Array {
  if (!info || info.dtype !== 'float32') throw new GenloomError('BAD_ARGUMENT', `${what} must be a float32 tensor`);
  const values = backend.data.get(info.dataId)?.values;
  if (values instanceof Float32Array) return values;
  if (values && ArrayBuffer.isView(values)) return Float32Array.from(values as unknown as ArrayLike<number>);
  throw new GenloomError('BAD_ARGUMENT', `${what} has no values in host memory`);
}

function hostInts(backend: NativeBackend, info: TensorInfo | undefined, what: string): Int32Array {
  const values = info ? backend.data.get(info.dataId)?.values : undefined;
  if (!info || info.dtype !== 'int32' || !(values instanceof Int32Array)) throw new GenloomError('BAD_ARGUMENT', `${what} must be an int32 tensor`);
  return values;
}

/** [rows, cols] of a tensor seen as rows of its last axis. */
function rowsOf(info: TensorInfo): [number, number] {
  const cols = info.shape[info.shape.length - 1] ?? 1;
  return [cols === 0 ? 0 : tf.util.sizeFromShape(info.shape) / cols, cols];
}

function out(backend: NativeBackend, shape: number[], values: Float32Array): TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', values);
}

const layerNorm: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const x = inputs['x']!;
  const [rows, cols] = rowsOf(x);
  const xv = hostFloats(backend, x, 'layer norm input');
  const gain = hostFloats(backend, inputs['gain'], 'layer norm gain');
  const bias = inputs['bias'] ? hostFloats(backend, inputs['bias'], 'layer norm bias') : null;
  const y = backend.allocFloat32(xv.length), normalized = backend.allocFloat32(xv.length), rstd = backend.allocFloat32(rows);
  addon.layerNorm(xv, gain, bias, y, normalized, rstd, rows, cols, Number(attrs['epsilon']));
  return [out(backend, [...x.shape], y), out(backend, [...x.shape], normalized), out(backend, [rows], rstd)];
};

const layerNormGrad: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const dy = inputs['dy']!;
  const [rows, cols] = rowsOf(dy);
  const dyv = hostFloats(backend, dy, 'dy');
  const dx = backend.allocFloat32(dyv.length), dgain = backend.allocFloat32(cols);
  const dbias = attrs['bias'] ? backend.allocFloat32(cols) : null;
  addon.layerNormGrad(dyv, hostFloats(backend, inputs['normalized'], 'x̂'), hostFloats(backend, inputs['rstd'], 'rstd'), hostFloats(backend, inputs['gain'], 'gain'), dx, dgain, dbias, rows, cols);
  const grads = [out(backend, [...dy.shape], dx), out(backend, [cols], dgain)];
  return dbias ? [...grads, out(backend, [cols], dbias)] : grads;
};

/** [batch, pixels, channels] of an NHWC tensor, and the groups from the attrs. */
function groupShape(x: TensorInfo, attrs: tf.NamedAttrMap): [number, number, number, number] {
  const [batch, height, width, channels] = x.shape as [number, number, number, number];
  const groups = Number(attrs['groups']);
  if (x.shape.length !== 4 || !(groups > 0) || channels % groups !== 0) throw new GenloomError('BAD_ARGUMENT', `group norm: [${x.shape.join(', ')}] is not NHWC with channels divisible by ${groups} groups`);
  return [batch, height * width, channels, groups];
}

const groupNorm: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const x = inputs['x']!;
  const [batch, pixels, channels, groups] = groupShape(x, attrs);
  const xv = hostFloats(backend, x, 'group norm input');
  const y = backend.allocFloat32(xv.length), normalized = backend.allocFloat32(xv.length), rstd = backend.allocFloat32(batch * groups);
  addon.groupNorm(xv, hostFloats(backend, inputs['scale'], 'group norm scale'), hostFloats(backend, inputs['shift'], 'group norm shift'), y, normalized, rstd, batch, pixels, channels, groups, Number(attrs['epsilon']), Boolean(attrs['silu']));
  return [out(backend, [...x.shape], y), out(backend, [...x.shape], normalized), out(backend, [batch, groups], rstd)];
};

const groupNormGrad: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const dy = inputs['dy']!;
  const [batch, pixels, channels, groups] = groupShape(dy, attrs);
  const dyv = hostFloats(backend, dy, 'dy');
  const dx = backend.allocFloat32(dyv.length), dscale = backend.allocFloat32(channels), dshift = backend.allocFloat32(channels);
  addon.groupNormGrad(dyv, hostFloats(backend, inputs['normalized'], 'x̂'), hostFloats(backend, inputs['rstd'], 'rstd'), hostFloats(backend, inputs['scale'], 'scale'), hostFloats(backend, inputs['shift'], 'shift'), dx, dscale, dshift, batch, pixels, channels, groups, Boolean(attrs['silu']));
  return [out(backend, [...dy.shape], dx), out(backend, [channels], dscale), out(backend, [channels], dshift)];
};

const gelu: NativeKernel = ({ inputs, backend, addon }) => {
  const x = inputs['x']!;
  const xv = hostFloats(backend, x, 'GELU input');
  const y = backend.allocFloat32(xv.length);
  addon.gelu(xv, y);
  return out(backend, [...x.shape], y);
};

const geluGrad: NativeKernel = ({ inputs, backend, addon }) => {
  const x = inputs['x']!;
  const xv = hostFloats(backend, x, 'GELU input');
  const dx = backend.allocFloat32(xv.length);
  addon.geluGrad(xv, hostFloats(backend, inputs['dy'], 'dy'), dx);
  return out(backend, [...x.shape], dx);
};

const softmaxCrossEntropy: NativeKernel = ({ inputs, backend, addon }) => {
  const logits = inputs['logits']!;
  const [rows, cols] = rowsOf(logits);
  const targets = hostInts(backend, inputs['targets'], 'cross-entropy targets');
  if (targets.length !== rows) throw new GenloomError('BAD_ARGUMENT', `cross-entropy: ${targets.length} targets for ${rows} rows of logits`);
  const probabilities = backend.allocFloat32(rows * cols);
  const loss = new Float64Array(1);
  const bad = addon.softmaxCrossEntropy(hostFloats(backend, logits, 'logits'), targets, probabilities, loss, rows, cols);
  if (bad >= 0) throw new GenloomError('BAD_ARGUMENT', `cross-entropy: target ${targets[bad]} (row ${bad}) is not in [0, ${cols - 1}]`);
  return [backend.makeTensorInfo([], 'float32', Float32Array.of(loss[0]!)), out(backend, [rows, cols], probabilities)];
};

const softmaxCrossEntropyGrad: NativeKernel = ({ inputs, backend, addon }) => {
  const probabilities = inputs['probabilities']!;
  const [rows, cols] = rowsOf(probabilities);
  const dy = hostFloats(backend, inputs['dy'], 'dy')[0]!;
  const dlogits = backend.allocFloat32(rows * cols);
  addon.softmaxCrossEntropyGrad(hostFloats(backend, probabilities, 'probabilities'), hostInts(backend, inputs['targets'], 'targets'), dy / rows, dlogits, rows, cols);
  return out(backend, [rows, cols], dlogits);
};

/** batch, length, heads and the head size from the attrs and qkv [batch·length, 3·dim]. */
function attentionShape(qkv: TensorInfo, attrs: tf.NamedAttrMap): { batch: number; length: number; heads: number; headDim: number; dim: number } {
  const batch = Number(attrs['batch']), length = Number(attrs['length']), heads = Number(attrs['heads']);
  const width = qkv.shape[1] ?? 0;
  if (qkv.shape.length !== 2 || qkv.shape[0] !== batch * length || width % (3 * heads) !== 0) {
    throw new GenloomError('BAD_ARGUMENT', `causal attention: qkv of shape [${qkv.shape.join(', ')}] is not [${batch * length}, 3 × ${heads} heads × head size]`);
  }
  return { batch, length, heads, headDim: width / (3 * heads), dim: width / 3 };
}

const causalAttention: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const qkv = inputs['qkv']!;
  const { batch, length, heads, headDim, dim } = attentionShape(qkv, attrs);
  const output = backend.allocFloat32(batch * length * dim), logsumexp = backend.allocFloat32(batch * heads * length);
  addon.causalAttention(hostFloats(backend, qkv, 'qkv'), output, logsumexp, batch, length, heads, headDim, 1 / Math.sqrt(headDim));
  return [out(backend, [batch * length, dim], output), out(backend, [batch, heads, length], logsumexp)];
};

const causalAttentionGrad: NativeKernel = ({ inputs, attrs, backend, addon }) => {
  const qkv = inputs['qkv']!;
  const { batch, length, heads, headDim } = attentionShape(qkv, attrs);
  const qkvValues = hostFloats(backend, qkv, 'qkv');
  const dqkv = backend.allocFloat32(qkvValues.length);
  addon.causalAttentionGrad(qkvValues, hostFloats(backend, inputs['out'], 'attention output'), hostFloats(backend, inputs['dy'], 'dy'), hostFloats(backend, inputs['logsumexp'], 'log-sum-exp'), dqkv, batch, length, heads, headDim, 1 / Math.sqrt(headDim));
  return out(backend, [...qkv.shape], dqkv);
};

/** [steps, batch, hidden] of a time-major projection [T, B, gates·H]. */
function sequenceShape(projected: TensorInfo, gates: number): [number, number, number] {
  const [steps, batch, width] = projected.shape as [number, number, number];
  if (projected.shape.length !== 3 || width % gates !== 0) throw new GenloomError('BAD_ARGUMENT', `a recurrent layer needs [steps, batch, ${gates} × hidden]; got [${projected.shape.join(', ')}]`);
  return [steps, batch, width / gates];
}

const lstmSequence: NativeKernel = ({ inputs, backend, addon }) => {
  const projected = inputs['projected']!;
  const [steps, batch, hidden] = sequenceShape(projected, 4);
  const states = backend.allocFloat32(steps * batch * hidden), cells = backend.allocFloat32(steps * batch * hidden), gates = backend.allocFloat32(steps * batch * 4 * hidden);
  addon.lstmSequence(hostFloats(backend, projected, 'LSTM input'), hostFloats(backend, inputs['recurrent'], 'LSTM recurrent weight'), states, cells, gates, steps, batch, hidden);
  return [out(backend, [steps, batch, hidden], states), out(backend, [steps, batch, hidden], cells), out(backend, [steps, batch, 4 * hidden], gates)];
};

const lstmSequenceGrad: NativeKernel = ({ inputs, backend, addon }) => {
  const gates = inputs['gates']!;
  const [steps, batch, hidden] = sequenceShape(gates, 4);
  const dprojected = backend.allocFloat32(steps * batch * 4 * hidden);
  addon.lstmSequenceGrad(hostFloats(backend, inputs['dy'], 'dy'), hostFloats(backend, gates, 'gates'), hostFloats(backend, inputs['cells'], 'cells'), hostFloats(backend, inputs['recurrent'], 'recurrent weight'), dprojected, steps, batch, hidden);
  return out(backend, [...gates.shape], dprojected);
};

const gruSequence: NativeKernel = ({ inputs, backend, addon }) => {
  const projected = inputs['projected']!;
  const [steps, batch, hidden] = sequenceShape(projected, 3);
  const states = backend.allocFloat32(steps * batch * hidden), gates = backend.allocFloat32(steps * batch * 4 * hidden);
  addon.gruSequence(hostFloats(backend, projected, 'GRU input'), hostFloats(backend, inputs['recurrent'], 'GRU recurrent weight'), hostFloats(backend, inputs['recurrentBias'], 'GRU recurrent bias'), states, gates, steps, batch, hidden);
  return [out(backend, [steps, batch, hidden], states), out(backend, [steps, batch, 4 * hidden], gates)];
};

const gruSequenceGrad: NativeKernel = ({ inputs, backend, addon }) => {
  const gates = inputs['gates']!;
  const [steps, batch, hidden] = sequenceShape(gates, 4);
  const dprojected = backend.allocFloat32(steps * batch * 3 * hidden), dterm = backend.allocFloat32(steps * batch * 3 * hidden);
  addon.gruSequenceGrad(hostFloats(backend, inputs['dy'], 'dy'), hostFloats(backend, gates, 'gates'), hostFloats(backend, inputs['states'], 'states'), hostFloats(backend, inputs['recurrent'], 'recurrent weight'), dprojected, dterm, steps, batch, hidden);
  return [out(backend, [steps, batch, 3 * hidden], dprojected), out(backend, [steps, batch, 3 * hidden], dterm)];
};

/** Kernel name → native implementation; registered on the native backend only. */
export const fusedKernels: Record<string, NativeKernel> = {
  [FusedKernel.LayerNorm]: layerNorm,
  [FusedKernel.LayerNormGrad]: layerNormGrad,
  [FusedKernel.GroupNorm]: groupNorm,
  [FusedKernel.GroupNormGrad]: groupNormGrad,
  [FusedKernel.Gelu]: gelu,
  [FusedKernel.GeluGrad]: geluGrad,
  [FusedKernel.SoftmaxCrossEntropy]: softmaxCrossEntropy,
  [FusedKernel.SoftmaxCrossEntropyGrad]: softmaxCrossEntropyGrad,
  [FusedKernel.CausalAttention]: causalAttention,
  [FusedKernel.CausalAttentionGrad]: causalAttentionGrad,
  [FusedKernel.LstmSequence]: lstmSequence,
  [FusedKernel.LstmSequenceGrad]: lstmSequenceGrad,
  [FusedKernel.GruSequence]: gruSequence,
  [FusedKernel.GruSequenceGrad]: gruSequenceGrad,
};
