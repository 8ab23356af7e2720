import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine } from '../../core/engine.ts';
import { fromSeed } from '../../core/random.ts';
import * as tf from '../../core/tf.ts';
import { crossEntropy, gelu, layerNorm } from './ops.ts';

await initEngine();

const random = fromSeed('ops');
const randomTensor = (shape: number[], scale = 1) => tf.tensor(random.normalArray(shape.reduce((a, b) => a * b, 1), scale), shape);

function assertClose(actual: tf.Tensor, expected: tf.Tensor, tolerance: number, what: string): void {
  const largest = tf.tidy(() => actual.sub(expected).abs().max().dataSync()[0]!);
  assert.ok(largest < tolerance, `${what}: largest difference ${largest}`);
}

test('GELU, layer norm and cross-entropy: values and hand-written gradients match autograd of their formulas', () => {
  tf.tidy(() => {
    const x = randomTensor([6, 10], 2);
    const gain = randomTensor([10], 0.5).add(1) as tf.Tensor1D;
    const bias = randomTensor([10], 0.5) as tf.Tensor1D;
    const upstream = randomTensor([6, 10]);
    const referenceGelu = (v: tf.Tensor) => v.mul(tf.tanh(v.add(v.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI))).add(1)).mul(0.5);
    assertClose(gelu(x), referenceGelu(x), 1e-6, 'gelu value');
    assertClose(tf.grad((v) => gelu(v).mul(upstream).sum())(x), tf.grad((v) => referenceGelu(v).mul(upstream).sum())(x), 1e-5, 'gelu gradient');

    const referenceNorm = (v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(v, -1, true);
      return v.sub(mean).div(variance.add(1e-5).sqrt()).mul(g).add(b);
    };
    const ours = (v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => layerNorm(v as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5).mul(upstream).sum();
    const theirs = (v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => referenceNorm(v, g, b).mul(upstream).sum();
    assertClose(layerNorm(x as tf.Tensor2D, gain, bias, 1e-5), referenceNorm(x, gain, bias), 1e-5, 'layer norm value');
    const oursGrads = tf.grads(ours)([x, gain, bias]);
    const theirGrads = tf.grads(theirs)([x, gain, bias]);
    ['input', 'gain', 'bias'].forEach((name, i) => assertClose(oursGrads[i]!, theirGrads[i]!, 1e-4, `layer norm gradient (${name})`));

    const logits = randomTensor([5, 7], 2) as tf.Tensor2D;
    const targets = tf.tensor1d([0, 6, 3, 3, 1], 'int32');
    const referenceLoss = (v: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.logSoftmax(v).mul(tf.oneHot(targets, 7)), -1)));
    assertClose(crossEntropy(logits, targets), referenceLoss(logits), 1e-6, 'cross-entropy value');
    assertClose(tf.grad((v) => crossEntropy(v as tf.Tensor2D, targets).mul(3))(logits), tf.grad((v) => referenceLoss(v).mul(3))(logits), 1e-6, 'cross-entropy gradient');
  });
});
