/**
 * The building blocks of src/layers/ops.ts: each composed version and each fused native kernel
 * against autograd of its formula (values and gradients), causal attention against a reference
 * written from softmax(QKᵀ/√d + mask)·V on odd sizes that cross the kernel's query blocks, the
 * fused kernels' results independent of the thread count, a whole GPT step the same with and
 * without fusion, and a target outside the vocabulary refused with a clear error.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine } from '../core/engine.ts';
import { loadNativeAddon } from '../core/native/addon.ts';
import { registerNativeBackend } from '../core/native/backend.ts';
import { gradientsOf } from '../core/params.ts';
import { fromSeed } from '../core/random.ts';
import * as tf from '../core/tf.ts';
import { parseTransformerConfig } from '../models/transformer/config.ts';
import { Gpt } from '../models/transformer/gpt.ts';
import { crossEntropy, fusedCausalAttention, fusion, gelu, groupNorm, layerNorm } from './ops.ts';
import { gruSequence, lstmSequence } from './recurrent.ts';

const native = registerNativeBackend();
const skipNative = native ? false : 'the native addon is not built on this machine';
await initEngine({ backend: native ? 'native' : undefined });

const random = fromSeed('ops');
const randomTensor = (shape: number[], scale = 1) => tf.tensor(random.normalArray(shape.reduce((a, b) => a * b, 1), scale), shape);

function assertClose(actual: tf.Tensor, expected: tf.Tensor, tolerance: number, what: string): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  const largest = tf.tidy(() => actual.sub(expected).abs().max().dataSync()[0]!);
  assert.ok(largest < tolerance, `${what}: largest difference ${largest}`);
}

function withFusion<T>(enabled: boolean, f: () => T): T {
  const before = fusion.enabled;
  fusion.enabled = enabled;
  try {
    return f();
  } finally {
    fusion.enabled = before;
  }
}

const paths = native ? [true, false] : [false];
for (const fused of paths) {
  test(`GELU, layer norm and cross-entropy (${fused ? 'fused native kernels' : 'composed'}): values and gradients match autograd of their formulas`, () => {
    withFusion(fused, () => tf.tidy(() => {
      for (const [rows, cols] of [[6, 10], [70, 129], [1, 2]] as const) {
        const x = randomTensor([rows, cols], 2);
        const gain = randomTensor([cols], 0.5).add(1) as tf.Tensor1D;
        const bias = randomTensor([cols], 0.5) as tf.Tensor1D;
        const upstream = randomTensor([rows, cols]);
        const referenceGelu = (v: tf.Tensor) => v.mul(tf.tanh(v.add(v.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI))).add(1)).mul(0.5);
        assertClose(gelu(x), referenceGelu(x), 1e-5, `gelu value ${rows}×${cols}`);
        assertClose(tf.grad((v) => gelu(v).mul(upstream).sum())(x), tf.grad((v) => referenceGelu(v).mul(upstream).sum())(x), 1e-5, 'gelu gradient');

        const referenceNorm = (v: tf.Tensor, g: tf.Tensor, b?: tf.Tensor) => {
          const { mean, variance } = tf.moments(v, -1, true);
          const scaled = v.sub(mean).div(variance.add(1e-5).sqrt()).mul(g);
          return b ? scaled.add(b) : scaled;
        };
        assertClose(layerNorm(x as tf.Tensor2D, gain, bias, 1e-5), referenceNorm(x, gain, bias), 1e-5, `layer norm value ${rows}×${cols}`);
        const ours = tf.grads((v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => layerNorm(v as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5).mul(upstream).sum())([x, gain, bias]);
        const theirs = tf.grads((v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => referenceNorm(v, g, b).mul(upstream).sum())([x, gain, bias]);
        ['input', 'gain', 'bias'].forEach((name, i) => assertClose(ours[i]!, theirs[i]!, 1e-3, `layer norm gradient (${name}) ${rows}×${cols}`));
        const oursNoBias = tf.grads((v: tf.Tensor, g: tf.Tensor) => layerNorm(v as tf.Tensor2D, g as tf.Tensor1D, undefined, 1e-5).mul(upstream).sum())([x, gain]);
        const theirsNoBias = tf.grads((v: tf.Tensor, g: tf.Tensor) => referenceNorm(v, g).mul(upstream).sum())([x, gain]);
        ['input', 'gain'].forEach((name, i) => assertClose(oursNoBias[i]!, theirsNoBias[i]!, 1e-3, `layer norm without bias, gradient (${name})`));

        const targets = tf.tensor1d(Array.from({ length: rows }, (_, i) => (i * 7) % cols), 'int32');
        const referenceLoss = (v: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.logSoftmax(v).mul(tf.oneHot(targets, cols)), -1)));
        assertClose(crossEntropy(x as tf.Tensor2D, targets), referenceLoss(x), 1e-5, `cross-entropy value ${rows}×${cols}`);
        assertClose(tf.grad((v) => crossEntropy(v as tf.Tensor2D, targets).mul(3))(x), tf.grad((v) => referenceLoss(v).mul(3))(x), 1e-6, 'cross-entropy gradient');
      }
    }));
  });
}

test('fused group norm (+ SiLU): values and gradients match the composed ops under autograd', { skip: skipNative }, () => {
  tf.tidy(() => {
    for (const [shape, groups] of [[[2, 5, 7, 12], 4], [[5, 16, 16, 32], 8], [[1, 3, 3, 6], 32]] as const) {
      const x = randomTensor([...shape], 2).add(0.5) as tf.Tensor4D;
      const scale = randomTensor([shape[3]], 0.5).add(1) as tf.Tensor1D;
      const shift = randomTensor([shape[3]], 0.5) as tf.Tensor1D;
      const upstream = randomTensor([...shape]);
      for (const silu of [true, false]) {
        const what = `[${shape.join(', ')}], ${groups} groups${silu ? ', SiLU' : ''}`;
        const f = (v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => groupNorm(v as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, groups, silu).mul(upstream).sum();
        assertClose(groupNorm(x, scale, shift, groups, silu), withFusion(false, () => groupNorm(x, scale, shift, groups, silu)), 1e-5, `group norm value, ${what}`);
        const fused = tf.grads(f)([x, scale, shift]);
        const composed = withFusion(false, () => tf.grads(f)([x, scale, shift]));
        ['input', 'scale', 'shift'].forEach((name, i) => assertClose(fused[i]!, composed[i]!, 2e-3, `group norm gradient (${name}), ${what}`));
      }
    }
  });
});

/** softmax(QKᵀ/√d + causal mask)·V, per head, from qkv [B·T, 3·H·d], merged back to [B·T, H·d]. */
function referenceAttention(qkv: tf.Tensor, batch: number, length: number, heads: number): tf.Tensor {
  const dim = qkv.shape[1]! / 3, headDim = dim / heads;
  const part = (i: number) => tf.slice(qkv, [0, i * dim], [batch * length, dim]).reshape([batch, length, heads, headDim]).transpose([0, 2, 1, 3]);
  const mask = tf.tensor2d(Array.from({ length: length * length }, (_, k) => (k % length > Math.floor(k / length) ? -1e9 : 0)), [length, length]);
  const scores = tf.matMul(part(0), part(1), false, true).mul(1 / Math.sqrt(headDim)).add(mask);
  return tf.matMul(tf.softmax(scores), part(2)).transpose([0, 2, 1, 3]).reshape([batch * length, dim]);
}

const attentionShapes = [[2, 70, 3, 5], [1, 130, 2, 8], [3, 1, 1, 4], [2, 64, 4, 32]] as const;

test('fused causal attention: values and gradients match the composed reference (query blocks crossed, odd head sizes)', { skip: skipNative }, () => {
  tf.tidy(() => {
    for (const [batch, length, heads, headDim] of attentionShapes) {
      const qkv = randomTensor([batch * length, 3 * heads * headDim]);
      const upstream = randomTensor([batch * length, heads * headDim]);
      const what = `B ${batch}, T ${length}, H ${heads}, d ${headDim}`;
      assertClose(fusedCausalAttention(qkv as tf.Tensor2D, batch, length, heads), referenceAttention(qkv, batch, length, heads), 1e-5, `attention value, ${what}`);
      const ours = tf.grad((v) => fusedCausalAttention(v as tf.Tensor2D, batch, length, heads).mul(upstream).sum())(qkv);
      const theirs = tf.grad((v) => referenceAttention(v, batch, length, heads).mul(upstream).sum())(qkv);
      assertClose(ours, theirs, 1e-4, `attention gradient, ${what}`);
    }
  });
});

test('the fused kernels give the same bytes on 1 thread and on 3', { skip: skipNative }, () => {
  const addon = loadNativeAddon()!;
  const before = addon.threads();
  const run = () => tf.tidy(() => {
    const r = fromSeed('threads');
    const t = (shape: number[]) => tf.tensor(r.normalArray(shape.reduce((a, b) => a * b, 1), 1), shape);
    const x = t([600, 130]), gain = t([130]), bias = t([130]), qkv = t([2 * 90, 3 * 64]), targets = tf.tensor1d(Array.from({ length: 600 }, (_, i) => i % 130), 'int32');
    const [dx, dgain, dbias] = tf.grads((v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => gelu(layerNorm(v as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5)).square().sum())([x, gain, bias]);
    const dlogits = tf.grad((v) => crossEntropy(v as tf.Tensor2D, targets))(x);
    const dqkv = tf.grad((v) => fusedCausalAttention(v as tf.Tensor2D, 2, 90, 4).square().sum())(qkv);
    const image = t([5, 16, 16, 32]);
    const groupGrads = tf.grads((v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => groupNorm(v as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, 8, true).square().sum())([image, t([32]), t([32])]);
    // 300 sequences: enough rows for the gate arithmetic to be split over threads.
    const [lstmInput, lstmWeight, gruInput, gruWeight, gruBias] = [t([3, 300, 4 * 64]), t([64, 4 * 64]), t([3, 300, 3 * 64]), t([64, 3 * 64]), t([3 * 64])];
    const lstmGrads = tf.grads((p: tf.Tensor, u: tf.Tensor) => lstmSequence(p as tf.Tensor3D, u as tf.Tensor2D).square().sum())([lstmInput, lstmWeight]);
    const gruGrads = tf.grads((p: tf.Tensor, u: tf.Tensor, c: tf.Tensor) => gruSequence(p as tf.Tensor3D, u as tf.Tensor2D, c as tf.Tensor1D).square().sum())([gruInput, gruWeight, gruBias]);
    return tf.concat([dx!.flatten(), dgain!, dbias!, dlogits.flatten(), dqkv.flatten(), ...[...groupGrads, ...lstmGrads, ...gruGrads].map((g) => g.flatten())]).dataSync();
  });
  addon.setThreads(1);
  const single = run();
  addon.setThreads(3);
  const three = run();
  addon.setThreads(before);
  assert.deepEqual(three, single);
});

test('a GPT training step: the same loss and gradients with and without the fused kernels', { skip: skipNative }, () => {
  const model = new Gpt(parseTransformerConfig({ vocabularySize: 11, layers: 2, heads: 2, dim: 16, context: 20 }, 'baby'), fromSeed(4));
  const ids = (seed: number) => tf.tensor2d(Int32Array.from({ length: 3 * 20 }, (_, i) => (i * seed + 3) % 11), [3, 20], 'int32');
  const batch = { inputs: ids(5), targets: ids(7) };
  const step = (fused: boolean) => withFusion(fused, () => gradientsOf(model.params, () => model.crossEntropy(batch)));
  const withKernels = step(true), composed = step(false);
  assertClose(withKernels.value, composed.value, 1e-5, 'loss');
  for (const name of Object.keys(composed.grads)) assertClose(withKernels.grads[name]!, composed.grads[name]!, 1e-4, `gradient of ${name}`);
  tf.dispose([withKernels, composed, batch] as unknown as tf.TensorContainer);
  model.dispose();
});

test('cross-entropy refuses a target outside the vocabulary with a clear error', { skip: skipNative }, () => {
  tf.tidy(() => {
    const logits = randomTensor([3, 5]) as tf.Tensor2D;
    assert.throws(() => crossEntropy(logits, tf.tensor1d([0, 5, 1], 'int32')), /target 5 \(row 1\) is not in \[0, 4\]/);
  });
});
