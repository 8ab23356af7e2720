/**
 * Transformer building blocks with hand-written gradients (tf.customGrad). Autograd through their
 * elementwise pieces records every intermediate op and, on wasm, each Multiply's gradient copies
 * both operands (a cast to the same dtype is a clone); the closed-form backward passes below take
 * about half the kernels. Each is checked against autograd in ops.test.ts.
 */
import * as tf from '../../core/tf.ts';

type CustomGradient = Parameters<typeof tf.customGrad>[0];

const GELU_SCALE = Math.sqrt(2 / Math.PI);
const GELU_CUBIC = 0.044715;

/**
 * GELU with the tanh approximation (GPT-2's "gelu_new"): ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
 * Its derivative: ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²), with t the tanh above.
 */
export const gelu = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const square = x.square();
  const t = tf.tanh(x.mul(square.mul(GELU_CUBIC).add(1)).mul(GELU_SCALE));
  save([x, square, t]);
  return {
    value: x.mul(t.add(1)).mul(0.5),
    gradFunc: (dy: tf.Tensor, [saved, savedSquare, savedT]: tf.Tensor[]) => {
      const slope = savedSquare!.mul(3 * GELU_CUBIC * GELU_SCALE).add(GELU_SCALE);
      const derivative = savedT!.add(1).add(saved!.mul(tf.sub(1, savedT!.square())).mul(slope)).mul(0.5);
      return [dy.mul(derivative)];
    },
  };
}) as unknown as CustomGradient) as <T extends tf.Tensor>(x: T) => T;

/**
 * Layer normalization over the last axis of x [N, D] with gain and (optional) bias [D]. Backward, with
 * x̂ the normalized input and r = 1/√(var + ε): dx = r·(g − mean(g) − x̂·mean(g·x̂)), g = dy·gain.
 */
export function layerNorm(x: tf.Tensor2D, gain: tf.Tensor1D, bias: tf.Tensor1D | undefined, epsilon: number): tf.Tensor2D {
  const normalize = tf.customGrad(((input: tf.Tensor, scale: tf.Tensor, save: tf.GradSaveFunc) => {
    const { mean, variance } = tf.moments(input, -1, true);
    const reciprocal = tf.rsqrt(variance.add(epsilon));
    const normalized = input.sub(mean).mul(reciprocal);
    save([normalized, reciprocal, scale]);
    return {
      value: normalized.mul(scale),
      gradFunc: (dy: tf.Tensor, [savedNormalized, savedReciprocal, savedScale]: tf.Tensor[]) => {
        const g = dy.mul(savedScale!);
        const dx = g.sub(g.mean(-1, true)).sub(savedNormalized!.mul(g.mul(savedNormalized!).mean(-1, true))).mul(savedReciprocal!);
        return [dx, dy.mul(savedNormalized!).sum(0)];
      },
    };
  }) as unknown as CustomGradient);
  const scaled = (normalize as (input: tf.Tensor, scale: tf.Tensor) => tf.Tensor)(x, gain);
  return (bias ? scaled.add(bias) : scaled) as tf.Tensor2D;
}

/**
 * Mean cross-entropy of logits [N, V] against integer targets [N]: mean(logsumexp − logit[target]).
 * Backward: (softmax − onehot) / N.
 */
export function crossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar {
  const [count, vocabulary] = logits.shape;
  const loss = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    const logProbabilities = tf.logSoftmax(input);
    const onehot = tf.oneHot(targets, vocabulary);
    save([logProbabilities, onehot]);
    return {
      value: tf.neg(tf.sum(logProbabilities.mul(onehot))).div(count),
      gradFunc: (dy: tf.Tensor, [savedLogProbabilities, savedOnehot]: tf.Tensor[]) => [tf.exp(savedLogProbabilities!).sub(savedOnehot!).mul(dy.div(count))],
    };
  }) as unknown as CustomGradient);
  return (loss as (input: tf.Tensor) => tf.Tensor)(logits) as tf.Scalar;
}
