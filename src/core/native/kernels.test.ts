/**
 * Every kernel the native backend overrides, against the cpu backend on random shapes: odd sizes,
 * size-1 and broadcast axes, transposed operands, empty tensors; plus the gradients of a small
 * model, results that do not depend on the thread count, and the AVX2 and scalar GEMM paths.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as tf from '../tf.ts';
import { loadNativeAddon } from './addon.ts';
import { registerNativeBackend } from './backend.ts';
import { nativeTuning } from './kernels.ts';
import type { NativeBackend } from './buffer-pool.ts';

const skip = registerNativeBackend() ? false : 'the native addon is not built on this machine (no C++ compiler at install)';
// Tiny tensors normally go to the cpu kernels; here every case goes through the C++.
nativeTuning.smallTensor = 0;
let seed = 1;

/** Runs f on both backends (inputs made once, on cpu) and returns [native, cpu] results. */
async function onBoth(f: () => tf.Tensor | tf.Tensor[]): Promise<[Float32Array[], Float32Array[], number[][]]> {
  const results: Float32Array[][] = [];
  let shapes: number[][] = [];
  for (const backend of ['native', 'cpu']) {
    await tf.setBackend(backend);
    const out = tf.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    results.push(list.map((t) => t.dataSync() as Float32Array));
    shapes = list.map((t) => t.shape);
    tf.dispose(list);
  }
  return [results[0]!, results[1]!, shapes];
}

async function assertClose(name: string, f: () => tf.Tensor | tf.Tensor[], tolerance = 1e-4): Promise<void> {
  // Inputs are built inside f from fixed seeds, so both backends see the same numbers.
  const [native, cpu] = await onBoth(f);
  assert.equal(native.length, cpu.length);
  for (let t = 0; t < native.length; t++) {
    assert.equal(native[t]!.length, cpu[t]!.length, `${name}: output ${t} sizes differ`);
    for (let i = 0; i < cpu[t]!.length; i++) {
      const a = native[t]![i]!, b = cpu[t]![i]!;
      if (Number.isNaN(b)) assert.ok(Number.isNaN(a), `${name}[${i}]: native ${a}, cpu NaN`);
      else assert.ok(Math.abs(a - b) <= tolerance * (1 + Math.abs(b)), `${name}[${i}]: native ${a}, cpu ${b}`);
    }
  }
}

/** Inputs from a fixed seed, made inside the backend under test. */
function inputs<T extends tf.Tensor[]>(...shapes: number[][]): T {
  return shapes.map((shape, i) => tf.randomNormal(shape, 0, 1, 'float32', 1000 + i)) as T;
}

test('matrix products: plain, transposed, batched, broadcast batch, fused bias and activations, odd and empty sizes', { skip }, async () => {
  for (const [m, k, n] of [[1, 1, 1], [1, 7, 13], [37, 53, 29], [13, 300, 65], [130, 257, 97], [5, 0, 3]] as const) {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      await assertClose(`matMul ${m}x${k}x${n} ${ta} ${tb}`, () => {
        const [a, b] = inputs(ta ? [k, m] : [m, k], tb ? [n, k] : [k, n]);
        return tf.matMul(a!, b!, ta, tb);
      });
    }
  }
  await assertClose('batched', () => { const [a, b] = inputs([2, 3, 17, 9], [2, 3, 9, 21]); return tf.matMul(a!, b!); });
  await assertClose('broadcast B', () => { const [a, b] = inputs([4, 17, 9], [9, 21]); return tf.matMul(a!, b!); });
  await assertClose('broadcast A', () => { const [a, b] = inputs([17, 9], [4, 21, 9]); return tf.matMul(a!, b!, false, true); });
  await assertClose('size-1 batch broadcast (cpu path)', () => { const [a, b] = inputs([2, 1, 5, 4], [1, 3, 4, 6]); return tf.matMul(a!, b!); });
  for (const activation of ['linear', 'relu', 'relu6', 'leakyrelu', 'sigmoid', 'elu', 'prelu'] as const) {
    await assertClose(`fused ${activation}`, () => {
      const [a, b, bias, prelu] = inputs([19, 33], [33, 40], [40], [40]);
      return tf.fused.matMul({ a: a!, b: b!, bias: bias!, activation, preluActivationWeights: activation === 'prelu' ? prelu : undefined, leakyreluAlpha: 0.3 });
    });
  }
});

test('elementwise ops with broadcasting, size-1 axes, scalars, NaN and empty tensors', { skip }, async () => {
  const pairs: [number[], number[]][] = [[[37, 53], [37, 53]], [[3, 37, 53], [53]], [[3, 1, 5], [1, 4, 1]], [[], [7, 2]], [[6, 1], []], [[0, 3], [3]], [[2, 3, 4, 5, 6], [3, 1, 5, 1]]];
  for (const op of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'squaredDifference'] as const) {
    for (const [sa, sb] of pairs) await assertClose(`${op} ${sa} ${sb}`, () => { const [a, b] = inputs(sa, sb); return tf[op](a!, b!); });
  }
  for (const op of ['greater', 'greaterEqual', 'less', 'lessEqual', 'equal', 'notEqual'] as const) {
    for (const [sa, sb] of pairs) await assertClose(`${op} ${sa} ${sb}`, () => { const [a, b] = inputs(sa, sb); return tf[op](a!.round(), b!.round()).toFloat(); }, 0);
  }
  await assertClose('pow', () => { const [a, b] = inputs([30, 7], [7]); return tf.pow(a!.abs(), b!); });
  await assertClose('where', () => { const [c, a, b] = inputs([40, 9], [40, 9], [40, 9]); return tf.where(tf.greater(c!, 0), a!, b!); }, 0);
  await assertClose('cast bool and int32 to float32', () => [tf.greater(inputs([20])[0]!, 0).toFloat().mul(2), tf.range(0, 12, 1, 'int32').toFloat().add(0.5)], 0);
  await assertClose('maximum with NaN', () => tf.maximum(tf.tensor1d([1, NaN, -2]), tf.tensor1d([NaN, 3, -5])));
  await assertClose('int32 add (cpu path)', () => tf.add(tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3, 4], 'int32')).toFloat());
  const unaries = ['exp', 'log', 'neg', 'sqrt', 'rsqrt', 'square', 'tanh', 'sigmoid', 'relu', 'abs', 'reciprocal', 'step', 'elu', 'sin', 'cos', 'relu6', 'log1p', 'softplus'] as const;
  for (const op of unaries) {
    await assertClose(op, () => { const [x] = inputs([41, 29]); return (tf[op] as (x: tf.Tensor) => tf.Tensor)(x!.mul(4)); });
  }
  // exp, σ and tanh run vectorized approximations: the edges where they under- or overflow, and
  // the relative precision of tanh near 0 (where 1 − 2/(1 + e^2x) would cancel).
  const edges = [-1000, -100, -87.5, -87.2, -20, -1e-6, 0, 1e-6, 0.01, 0.1, 0.2, 20, 88, 88.6, 89, 1000, NaN, Infinity, -Infinity];
  for (const op of ['exp', 'sigmoid', 'tanh'] as const) {
    const big = () => tf.tensor1d(Array.from({ length: 4096 }, (_, i) => edges[i % edges.length]!));
    await assertClose(`${op} at the edges`, () => tf[op](big()).div(op === 'exp' ? tf.exp(big()).add(1e-30) : 1), 1e-5);
  }
  await tf.setBackend('native');
  const small = tf.tanh(tf.tensor1d(Array.from({ length: 4096 }, (_, i) => (i + 1) * 1e-7))).dataSync();
  for (let i = 0; i < small.length; i++) assert.ok(Math.abs(small[i]! / Math.tanh((i + 1) * 1e-7) - 1) < 1e-6, `tanh(${(i + 1) * 1e-7}) = ${small[i]}`);
  await assertClose('leakyRelu', () => tf.leakyRelu(inputs([100])[0]!, 0.1));
  await assertClose('step alpha', () => tf.step(tf.tensor1d([-1, 0, 2, NaN]), 0.5));
});

test('reductions over inner, outer and middle axes; softmax', { skip }, async () => {
  for (const op of ['sum', 'mean', 'max', 'min'] as const) {
    for (const axis of [undefined, 0, 1, 2, -1, [0, 1], [1, 2], [0, 2]] as const) {
      for (const keepDims of [false, true]) {
        await assertClose(`${op} ${String(axis)} ${keepDims}`, () => tf[op](inputs([7, 33, 19])[0]!, axis as number | number[], keepDims));
      }
    }
  }
  await assertClose('sum of a long row', () => tf.sum(inputs([3, 100_000])[0]!, 1), 1e-5);
  await assertClose('max with NaN', () => tf.max(tf.tensor2d([[1, NaN], [2, 3]]), 1));
  await assertClose('softmax', () => tf.softmax(inputs([5, 7, 65])[0]!.mul(10)), 1e-5);
  await assertClose('softmax of one column', () => tf.softmax(inputs([4, 1])[0]!));
});

test('slice, split, unstack, concat and pad over every axis (float32 and int32)', { skip }, async () => {
  for (const [begin, size] of [[[0, 1, 2], [3, 2, 4]], [[1, 0, 0], [1, 3, 6]], [[2, 2, 5], [-1, 1, 1]], [[0, 0, 0], [4, 3, 6]]]) {
    await assertClose(`slice ${begin} ${size}`, () => tf.slice(inputs([4, 3, 6])[0]!, begin!, size!), 0);
  }
  for (const axis of [0, 1, 2]) {
    await assertClose(`split axis ${axis}`, () => tf.split(inputs([4, 6, 8])[0]!, axis === 2 ? [3, 1, 4] : 2, axis), 0);
    await assertClose(`unstack axis ${axis}`, () => tf.unstack(inputs([4, 6, 8])[0]!, axis), 0);
    await assertClose(`concat axis ${axis}`, () => { const [a, b, c] = inputs([4, 6, 8], [4, 6, 8], [4, 6, 8]); return tf.concat([a!, b!.slice([0, 0, 0], [4, 6, 8]), c!], axis); }, 0);
  }
  await assertClose('concat of unequal parts and an empty one', () => { const [a, b] = inputs([3, 2], [3, 5]); return tf.concat([a!, tf.zeros([3, 0]), b!], 1); }, 0);
  await assertClose('int32 unstack', () => tf.unstack(tf.range(0, 24, 1, 'int32').reshape([2, 3, 4]), 1).map((part) => part.toFloat()), 0);
  await assertClose('int32 slice and concat', () => tf.concat([tf.range(0, 12, 1, 'int32').reshape([3, 4]).slice([0, 1], [3, 2]), tf.ones([3, 1], 'int32')], 1).toFloat(), 0);
  await assertClose('pad', () => tf.pad(inputs([3, 4, 5])[0]!, [[1, 0], [0, 2], [3, 1]], 0.5), 0);
  await assertClose('gradient of a strided slice (a pad)', () => tf.grad((x: tf.Tensor) => x.slice([0, 1], [5, 3]).square().sum())(inputs([5, 7])[0]!), 0);
});

test('transpose, gather and unsorted segment sum (float32 and int32)', { skip }, async () => {
  for (const perm of [[1, 0], [0, 2, 1], [2, 0, 1], [0, 2, 1, 3], [3, 1, 2, 0], [0, 1, 3, 2, 4]]) {
    const shape = [5, 3, 7, 2, 4].slice(0, perm.length);
    await assertClose(`transpose ${perm}`, () => tf.transpose(inputs(shape)[0]!, perm), 0);
  }
  await assertClose('int32 transpose', () => tf.transpose(tf.range(0, 24, 1, 'int32').reshape([2, 3, 4]), [2, 0, 1]).toFloat(), 0);
  for (const axis of [0, 1, 2]) {
    await assertClose(`gather axis ${axis}`, () => tf.gather(inputs([4, 5, 6])[0]!, tf.tensor2d([[0, 3], [2, 1], [3, 3]], [3, 2], 'int32'), axis), 0);
  }
  await assertClose('int32 gather', () => tf.gather(tf.range(0, 10, 1, 'int32'), tf.tensor1d([9, 0, 4], 'int32')).toFloat(), 0);
  await tf.setBackend('native');
  assert.throws(() => tf.gather(tf.ones([3, 2]), tf.tensor1d([0, 3], 'int32')).dataSync(), /index value 3 is not in \[0, 2\]/);
  await assertClose('segment sum', () => tf.unsortedSegmentSum(inputs([50, 3, 7])[0]!, tf.tensor1d(Array.from({ length: 50 }, (_, i) => (i * 7) % 11), 'int32'), 11), 1e-5);
  await assertClose('segment sum with unused segments', () => tf.unsortedSegmentSum(inputs([6, 2])[0]!, tf.tensor1d([0, 0, 4, 4, 4, 1], 'int32'), 9), 1e-5);
});

test('convolutions and both of their gradients over strides, padding, dilation and 1x1 filters', { skip }, async () => {
  const cases: { x: [number, number, number, number]; f: [number, number, number, number]; stride: number | [number, number]; pad: 'same' | 'valid' | number; dilation?: number }[] = [
    { x: [2, 9, 11, 3], f: [3, 3, 3, 5], stride: 1, pad: 'same' },
    { x: [2, 9, 11, 3], f: [3, 3, 3, 5], stride: [2, 1], pad: 'valid' },
    { x: [3, 8, 8, 4], f: [4, 4, 4, 6], stride: 2, pad: 'same' },
    { x: [1, 7, 5, 2], f: [3, 2, 2, 3], stride: 1, pad: 1 },
    { x: [2, 10, 10, 3], f: [3, 3, 3, 2], stride: 1, pad: 'same', dilation: 2 },
    { x: [2, 6, 6, 8], f: [1, 1, 8, 4], stride: 1, pad: 'valid' },
    { x: [5, 14, 14, 16], f: [3, 3, 16, 24], stride: 1, pad: 'same' },
  ];
  for (const { x: xs, f: fs, stride, pad, dilation } of cases) {
    const name = `conv x${xs} f${fs} s${stride} ${pad} d${dilation ?? 1}`;
    await assertClose(name, () => { const [x, f] = inputs(xs, fs); return tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, pad, 'NHWC', dilation ?? 1); }, 1e-4);
    if (dilation) continue; // tfjs has no dilated gradients
    await assertClose(`${name} gradients`, () => {
      const [x, f] = inputs(xs, fs);
      return tf.grads((xs: tf.Tensor, fs: tf.Tensor) => tf.conv2d(xs as tf.Tensor4D, fs as tf.Tensor4D, stride, pad).square().sum())([x!, f!]);
    }, 2e-4);
  }
  await assertClose('conv2dTranspose', () => { const [y, f] = inputs([2, 4, 4, 6], [4, 4, 3, 6]); return tf.conv2dTranspose(y as tf.Tensor4D, f as tf.Tensor4D, [2, 8, 8, 3], 2, 'same'); });
  await assertClose('NCHW (cpu path)', () => { const [x, f] = inputs([1, 3, 6, 6], [3, 3, 3, 2]); return tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same', 'NCHW'); });
});

test('a small model has the same loss and gradients on native as on cpu', { skip }, async () => {
  await assertClose('model gradients', () => {
    const [x, w1, w2, embed] = inputs([8, 6, 6, 2], [3, 3, 2, 4], [144, 10], [10, 5]);
    const labels = tf.tensor1d([1, 0, 3, 9, 2, 2, 7, 5], 'int32');
    const params = [w1!, w2!, embed!].map((t, i) => tf.variable(t, true, `model${seed}_${i}`));
    const { value, grads } = tf.variableGrads(() => {
      const h = tf.relu(tf.conv2d(x as tf.Tensor4D, params[0] as tf.Variable<tf.Rank.R4>, 1, 'same'));
      const logits = tf.matMul(h.reshape([8, 144]), params[1]!).add(tf.gather(params[2]!, labels).sum(1, true));
      return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 10), logits) as tf.Scalar;
    });
    seed++;
    tf.dispose(params);
    return [value, ...Object.values(grads)];
  }, 1e-4);
});

test('fused conv2d (bias and activation in the epilogue) against the cpu backend', { skip }, async () => {
  for (const [xs, fs, stride, pad] of [[[3, 9, 11, 5], [4, 4, 5, 7], 2, 'same'], [[2, 8, 8, 16], [1, 1, 16, 8], 1, 'valid'], [[4, 14, 14, 32], [3, 3, 32, 64], 1, 'same']] as const) {
    for (const activation of ['linear', 'relu', 'leakyrelu', 'elu'] as const) {
      await assertClose(`fused conv2d [${xs.join(',')}] ${activation}`, () => {
        const [x, f, b] = inputs([...xs], [...fs], [fs[3]]);
        return tf.fused.conv2d({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, strides: stride, pad, bias: b, activation, leakyreluAlpha: 0.2 });
      });
    }
  }
});

// The cpu backend's ResizeNearestNeighborGrad reads dy at the images' batch stride (wrong for every
// image after the first when the sizes differ) and ignores halfPixelCenters, so the gradient is
// compared with it on one image and checked as the forward's exact adjoint everywhere.
test('nearest-neighbour resizing and its gradient (up, down, odd ratios, corner and half-pixel modes)', { skip }, async () => {
  for (const [shape, size] of [[[2, 7, 7, 3], [14, 14]], [[3, 5, 9, 4], [12, 4]], [[1, 4, 4, 1], [4, 4]], [[1, 6, 3, 5], [2, 11]]] as const) {
    for (const [alignCorners, halfPixelCenters] of [[false, false], [true, false], [false, true]] as const) {
      const what = `resize [${shape.join(',')}] → ${size.join('×')} ${alignCorners} ${halfPixelCenters}`;
      const resize = (v: tf.Tensor) => tf.image.resizeNearestNeighbor(v as tf.Tensor4D, [size[0], size[1]], alignCorners, halfPixelCenters);
      const withGradient = () => {
        const [x, upstream] = inputs([...shape], [shape[0], size[0], size[1], shape[3]]);
        return [resize(x!), tf.grad((v: tf.Tensor) => resize(v).mul(upstream!).sum())(x!), x!, upstream!];
      };
      await assertClose(what, () => (shape[0] === 1 && !halfPixelCenters ? withGradient().slice(0, 2) : [resize(inputs([...shape])[0]!)]));
      await tf.setBackend('native');
      tf.tidy(() => {
        const [y, dx, x, upstream] = withGradient();
        const forward = y!.mul(upstream!).sum().dataSync()[0]!, backward = x!.mul(dx!).sum().dataSync()[0]!;
        assert.ok(Math.abs(forward - backward) < 1e-4 * (1 + Math.abs(forward)), `${what}: ⟨resize(x), u⟩ = ${forward} but ⟨x, gradient⟩ = ${backward}`);
      });
    }
  }
});

test('a tensor too large for the kernels\' 32-bit indices is refused with a clear error, before anything is allocated', { skip }, async () => {
  await tf.setBackend('native');
  const backend = tf.backend() as NativeBackend;
  assert.throws(() => backend.allocFloat32(2 ** 31), /2,147,483,648 elements is more than the native backend's limit of 2\^31 − 1/);
  const huge = { dataId: {}, shape: [2 ** 16, 2 ** 15 + 1], dtype: 'float32' as const };
  const kernel = tf.getKernel(tf.Relu, 'native')!;
  assert.throws(() => kernel.kernelFunc({ inputs: { x: huge }, attrs: {}, backend }), /Relu: 2,147,549,184 elements/);
});

test('results do not depend on the number of threads', { skip }, async () => {
  const addon = loadNativeAddon()!;
  await tf.setBackend('native');
  const before = addon.threads();
  const run = () => tf.tidy(() => {
    const [a, b, x, f] = inputs([300, 513], [513, 700], [9, 20, 20, 8], [3, 3, 8, 16]);
    const product = tf.matMul(a!, b!).sum(1);
    const grad = tf.grad((w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same').square().sum())(f!);
    return tf.concat([product, grad.flatten(), tf.sum(a!, 0)]).dataSync();
  });
  addon.setThreads(1);
  const single = run();
  addon.setThreads(3);
  const three = run();
  addon.setThreads(before);
  assert.deepEqual(three, single);
});

test('the AVX2 and scalar GEMM paths agree with the cpu backend', { skip }, async () => {
  const script = fileURLToPath(new URL('./gemm-check.ts', import.meta.url));
  for (const isa of ['avx2', 'scalar']) {
    const out = execFileSync(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, GENLOOM_NATIVE_ISA: isa }, encoding: 'utf8' });
    const { isa: used, maxError } = JSON.parse(out) as { isa: string; maxError: number };
    if (isa === 'avx2' && used === 'scalar') continue; // this CPU has no AVX2
    assert.equal(used, isa);
    assert.ok(maxError < 1e-4, `${isa}: max error ${maxError}`);
  }
});
