/**
 * genloom's replacements of two stock wasm kernels, BatchMatMul (wasm-batch-matmul.ts) and
 * Conv2DBackpropInput (wasm-conv2d-backprop-input*.ts), against the tfjs cpu backend: kernel by
 * kernel over varied geometry, through tf.grads end to end, with leak checks (runOn checks both the
 * tensor count and the wasm backend's raw buffers) and the registration's idempotence.
 *
 * Run: node --import tsx --test src/core/kernels/wasm-matmul-deconv.test.ts
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../tf.ts';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels, WASM_KERNEL_OVERRIDES } from './wasm-kernels.ts';
import { stockWasmKernel } from './wasm-kernel-util.ts';
import { conv2dBackpropInputOptions } from './wasm-conv2d-backprop-input.ts';
import { compareBackends, describePad, forwardOutShape, randomTensor, runOn, type Pad, type RoundingMode, type Shape4 } from './wasm-kernels.test-util.ts';

const defaultOptions = { ...conv2dBackpropInputOptions };

before(async () => {
  registerWasmKernels();
  assert.ok(await tf.setBackend('wasm'));
  await tf.ready();
});

after(() => Object.assign(conv2dBackpropInputOptions, defaultOptions));

// ---------------------------------------------------------------- registration

describe('stock kernel replacements', () => {
  test('are installed once, keep the stock kernel and its setup, and survive repeated registration', () => {
    const before = WASM_KERNEL_OVERRIDES.map((name) => tf.getKernel(name, 'wasm')!.kernelFunc);
    registerWasmKernels();
    registerWasmKernels();
    assert.deepEqual([...WASM_KERNEL_OVERRIDES].sort(), ['BatchMatMul', 'Conv2DBackpropInput']);
    WASM_KERNEL_OVERRIDES.forEach((name, index) => {
      const kernel = tf.getKernel(name, 'wasm')!;
      assert.equal(kernel.kernelFunc, before[index], `${name}: not replaced again`);
      const stock = stockWasmKernel(name);
      assert.ok(stock, `${name}: stock kernel kept`);
      assert.notEqual(stock.kernelFunc, kernel.kernelFunc);
      // Never a wrapper of a wrapper: the kept kernel is not itself a replacement.
      assert.equal((stock.kernelFunc as unknown as Record<symbol, unknown>)[Symbol.for('genloom.wasmStockKernel')], undefined);
      assert.equal(kernel.setupFunc, stock.setupFunc, `${name}: stock setup carried over`);
    });
  });
});

// ---------------------------------------------------------------- BatchMatMul

/** Shapes of op(a) and op(b), i.e. before the transposes are applied to the stored operands. */
const matMulCases: Array<{ a: number[]; b: number[]; label: string }> = [
  { a: [5, 7], b: [7, 3], label: 'odd 2-D' },
  { a: [1, 9], b: [9, 1], label: 'vector product' },
  { a: [1, 1], b: [1, 6], label: 'single element row' },
  { a: [3, 5, 7], b: [7, 4], label: 'broadcast batch [B,M,K] @ [K,N]' },
  { a: [2, 3, 5, 7], b: [1, 7, 4], label: 'rank-4 batch over a size-1 batch' },
  { a: [1, 6, 8], b: [1, 8, 5], label: 'batch 1 on both sides' },
  { a: [3, 5, 7], b: [3, 7, 4], label: 'true batch' },
  { a: [5, 7], b: [2, 7, 4], label: 'batch on b only' },
  { a: [2, 1, 5, 7], b: [3, 7, 4], label: 'batches broadcast against each other' },
  { a: [70, 33], b: [33, 9], label: 'tall a (direct transposeB form)' },
  { a: [12, 40], b: [40, 700], label: 'large b, small a (swapped transposeB form)' },
  { a: [4, 6, 40], b: [40, 300], label: 'batched a with swapped transposeB form' },
  { a: [3, 20, 7], b: [3, 7, 16], label: 'true batch, one XNNPACK product per matrix' },
  { a: [2, 3, 17, 5], b: [2, 3, 5, 19], label: 'rank-4 true batch (attention heads), per matrix' },
  { a: [1, 6, 20, 5], b: [6, 1, 5, 16], label: 'equal batch sizes that broadcast to 6×6 (stock loop)' },
];

const stored = (shape: number[], transposed: boolean) =>
  transposed ? [...shape.slice(0, -2), shape[shape.length - 1], shape[shape.length - 2]] : shape;

describe('BatchMatMul on wasm matches cpu', () => {
  matMulCases.forEach(({ a, b, label }, caseIndex) => {
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        test(`${label}: [${a}] @ [${b}] transposeA ${transposeA} transposeB ${transposeB}`, async () => {
          await compareBackends('matMul', () =>
            tf.matMul(randomTensor(stored(a, transposeA), 100 + caseIndex), randomTensor(stored(b, transposeB), 200 + caseIndex), transposeA, transposeB),
          );
        });
      }
    }
  });

  test('a buffer used as b with two shapes (a reshaped view) is not multiplied with a stale packing', async () => {
    // The wasm matmul caches b's packing by tensor id, which a reshape shares with its source.
    await compareBackends('matMul through reshaped views', () => {
      const shared = randomTensor([6, 4], 300);
      const first = tf.matMul(randomTensor([3, 6], 301), shared);
      const second = tf.matMul(randomTensor([5, 4], 302), tf.reshape(shared, [4, 6]));
      const third = tf.matMul(randomTensor([2, 6], 303), shared);
      return [first, second, third];
    });
  });

  test('repeated products with one weight (its cached packing) stay correct', async () => {
    await compareBackends('repeated matMul', () => {
      const weight = randomTensor([16, 9], 310);
      return [0, 1, 2].map((index) => tf.matMul(randomTensor([7, 16], 311 + index), weight));
    });
  });

  test('rejects mismatched inner dimensions with tfjs error', async () => {
    await tf.setBackend('wasm');
    tf.tidy(() => assert.throws(() => tf.matMul(tf.zeros([2, 3]), tf.zeros([4, 5])), /inner shapes/));
  });
});

// ---------------------------------------------------------------- Conv2DBackpropInput

interface DeconvCase {
  xShape: Shape4; // dx's shape, i.e. the forward conv's input
  filterShape: Shape4;
  strides: number | [number, number];
  pad: Pad;
  roundingMode?: RoundingMode;
}

const deconvCases: DeconvCase[] = [
  { xShape: [1, 5, 5, 1], filterShape: [3, 3, 1, 2], strides: 1, pad: 'same' },
  { xShape: [2, 7, 6, 3], filterShape: [3, 2, 3, 4], strides: 2, pad: 'same' },
  { xShape: [3, 9, 7, 2], filterShape: [4, 4, 2, 3], strides: 2, pad: 'valid' },
  { xShape: [2, 6, 5, 3], filterShape: [3, 3, 3, 2], strides: [1, 2], pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { xShape: [2, 8, 7, 2], filterShape: [3, 3, 2, 2], strides: 2, pad: 1, roundingMode: 'ceil' },
  { xShape: [1, 9, 8, 2], filterShape: [2, 3, 2, 3], strides: [2, 3], pad: 2, roundingMode: 'floor' },
  { xShape: [2, 9, 9, 3], filterShape: [2, 2, 3, 2], strides: 3, pad: 'same' }, // filter smaller than stride
  { xShape: [1, 11, 10, 2], filterShape: [5, 4, 2, 3], strides: 3, pad: 'valid' },
  { xShape: [2, 10, 11, 3], filterShape: [5, 3, 3, 2], strides: [2, 3], pad: 4 }, // padding larger than the filter reach
  { xShape: [2, 9, 8, 4], filterShape: [3, 3, 4, 3], strides: 2, pad: 1, roundingMode: 'round' },
  { xShape: [1, 4, 4, 5], filterShape: [1, 1, 5, 3], strides: 1, pad: 'valid' },
  { xShape: [3, 7, 5, 2], filterShape: [3, 3, 2, 2], strides: 1, pad: [[0, 0], [0, 2], [2, 1], [0, 0]] },
  { xShape: [4, 8, 8, 16], filterShape: [4, 4, 16, 8], strides: 2, pad: 'same' }, // a VAE decoder layer in small
];

function runDeconv({ xShape, filterShape, strides, pad, roundingMode }: DeconvCase, seed: number): tf.Tensor {
  const dyShape = forwardOutShape(xShape, filterShape, strides, 1, pad, roundingMode, false);
  return tf.engine().runKernel(
    tf.Conv2DBackpropInput,
    { dy: randomTensor(dyShape, seed), filter: randomTensor(filterShape, seed + 1) },
    { strides, pad, dataFormat: 'NHWC', dimRoundingMode: roundingMode, inputShape: xShape } as unknown as tf.NamedAttrMap,
  ) as tf.Tensor;
}

describe('Conv2DBackpropInput on wasm matches cpu', () => {
  for (const strategy of ['gemm', 'phases', 'auto'] as const) {
    deconvCases.forEach((testCase, caseIndex) => {
      const { xShape, filterShape, strides, pad, roundingMode } = testCase;
      test(`${strategy}: dx [${xShape}] filter [${filterShape}] strides ${strides} pad ${describePad(pad)} rounding ${roundingMode ?? 'none'}`, async () => {
        conv2dBackpropInputOptions.strategy = strategy;
        try {
          await compareBackends('dx', () => runDeconv(testCase, 400 + caseIndex * 2));
        } finally {
          conv2dBackpropInputOptions.strategy = defaultOptions.strategy;
        }
      });
    });
  }

  test('gemm in chunks of a few images (bounded cols buffer) matches one pass', async () => {
    Object.assign(conv2dBackpropInputOptions, { strategy: 'gemm', maxColumnFloats: 700 });
    try {
      // 7x7 output pixels x 48 patch floats = 2352 per image: chunks of 1 image, 5 chunks.
      await compareBackends('dx in chunks', () => runDeconv({ xShape: [5, 13, 13, 3], filterShape: [4, 4, 3, 2], strides: 2, pad: 'same' }, 450));
      conv2dBackpropInputOptions.maxColumnFloats = 5000; // 2 images a chunk, the last one short
      await compareBackends('dx in uneven chunks', () => runDeconv({ xShape: [5, 13, 13, 3], filterShape: [4, 4, 3, 2], strides: 2, pad: 'same' }, 452));
    } finally {
      Object.assign(conv2dBackpropInputOptions, defaultOptions);
    }
  });

  test('NCHW falls back to the stock kernel', async () => {
    // The cpu kernel's NCHW answer contains NaNs, so the reference is cpu in NHWC, with wasm's
    // NCHW inputs and output transposed to and from it.
    const geometry: DeconvCase = { xShape: [2, 6, 5, 3], filterShape: [3, 3, 3, 2], strides: 2, pad: 'same' };
    const dyShape = forwardOutShape(geometry.xShape, geometry.filterShape, 2, 1, 'same', undefined, false);
    await compareBackends('dx NCHW', () => {
      const dy = randomTensor(dyShape, 460);
      const filter = randomTensor(geometry.filterShape, 461);
      const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC', inputShape: geometry.xShape };
      if (tf.getBackend() === 'cpu') return tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter }, attrs) as tf.Tensor;
      const [batch, height, width, channels] = geometry.xShape;
      const nchw = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: tf.transpose(dy, [0, 3, 1, 2]), filter }, {
        ...attrs,
        dataFormat: 'NCHW',
        inputShape: [batch, channels, height, width],
      }) as tf.Tensor;
      return tf.transpose(nchw, [0, 2, 3, 1]);
    });
  });

  test('rejects dilations other than 1, and a dy that does not fit the geometry', async () => {
    await tf.setBackend('wasm');
    const tensorsBefore = tf.memory().numTensors;
    const dataIdsBefore = tf.engine().backend.numDataIds();
    tf.tidy(() => {
      const filter = tf.zeros([3, 3, 2, 3]);
      const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC', inputShape: [1, 6, 6, 2] };
      assert.throws(
        () => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: tf.zeros([1, 3, 3, 3]), filter }, { ...attrs, dilations: 2 }),
        /dilations 2 are not supported/,
      );
      assert.throws(
        () => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: tf.zeros([1, 6, 6, 3]), filter }, attrs),
        /dy.*\[1, 3, 3, 3\]/,
      );
    });
    assert.equal(tf.memory().numTensors, tensorsBefore);
    assert.equal(tf.engine().backend.numDataIds(), dataIdsBefore);
  });
});

// ---------------------------------------------------------------- gradients end to end

describe('gradients through the replaced kernels on wasm match cpu', () => {
  const transposeCases = [
    { xShape: [2, 4, 4, 6] as Shape4, filterShape: [4, 4, 3, 6] as Shape4, outputShape: [2, 8, 8, 3] as Shape4, strides: 2, pad: 'same' as const },
    { xShape: [3, 5, 5, 4] as Shape4, filterShape: [4, 4, 1, 4] as Shape4, outputShape: [3, 10, 10, 1] as Shape4, strides: 2, pad: 'same' as const },
    { xShape: [1, 5, 4, 2] as Shape4, filterShape: [2, 3, 3, 2] as Shape4, outputShape: [1, 6, 6, 3] as Shape4, strides: 1, pad: 'valid' as const },
    { xShape: [2, 3, 4, 5] as Shape4, filterShape: [3, 3, 4, 5] as Shape4, outputShape: [2, 9, 12, 4] as Shape4, strides: 3, pad: 'same' as const },
  ];
  transposeCases.forEach(({ xShape, filterShape, outputShape, strides, pad }, caseIndex) => {
    test(`conv2dTranspose: x [${xShape}] filter [${filterShape}] -> [${outputShape}] strides ${strides} pad ${pad}`, async () => {
      await compareBackends('conv2dTranspose grads', () => {
        const weights = randomTensor(outputShape, 500 + caseIndex);
        const loss = (x: tf.Tensor, filter: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2dTranspose(x as tf.Tensor4D, filter as tf.Tensor4D, outputShape, strides, pad), weights));
        const [dx, dFilter] = tf.grads(loss)([randomTensor(xShape, 510 + caseIndex), randomTensor(filterShape, 520 + caseIndex)]);
        const forward = tf.conv2dTranspose(randomTensor(xShape, 510 + caseIndex) as tf.Tensor4D, randomTensor(filterShape, 520 + caseIndex) as tf.Tensor4D, outputShape, strides, pad);
        return [forward, dx, dFilter];
      });
    });
  });

  const convCases = [
    { xShape: [2, 9, 9, 4] as Shape4, filterShape: [4, 4, 4, 8] as Shape4, strides: 2, pad: 'same' as Pad },
    { xShape: [3, 8, 7, 6] as Shape4, filterShape: [3, 3, 6, 5] as Shape4, strides: 1, pad: 'same' as Pad },
    { xShape: [2, 10, 9, 2] as Shape4, filterShape: [3, 2, 2, 3] as Shape4, strides: 3, pad: [[0, 0], [1, 0], [0, 2], [0, 0]] as Pad },
  ];
  convCases.forEach(({ xShape, filterShape, strides, pad }, caseIndex) => {
    test(`conv2d: x [${xShape}] filter [${filterShape}] strides ${strides} pad ${describePad(pad)}`, async () => {
      const outShape = forwardOutShape(xShape, filterShape, strides, 1, pad, undefined, false);
      await compareBackends('conv2d grads', () => {
        const weights = randomTensor(outShape, 600 + caseIndex);
        const loss = (x: tf.Tensor, filter: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, strides, pad as 'same'), weights));
        return tf.grads(loss)([randomTensor(xShape, 610 + caseIndex), randomTensor(filterShape, 620 + caseIndex)]);
      });
    });
  });

  test('dense layer relu(x @ W + b), and a dense layer over a sequence [B, T, D] @ [D, H]', async () => {
    await compareBackends('dense grads', () => {
      const weights = randomTensor([17, 11], 700);
      const loss = (x: tf.Tensor, w: tf.Tensor, bias: tf.Tensor) => tf.sum(tf.mul(tf.relu(tf.add(tf.matMul(x, w), bias)), weights));
      return tf.grads(loss)([randomTensor([17, 23], 701), randomTensor([23, 11], 702), randomTensor([11], 703)]);
    });
    // Only dx: tfjs's BatchMatMul gradient does not sum a broadcast b's gradient over the batch
    // (it fails on every backend), so the weight's gradient of this form is out of reach.
    await compareBackends('sequence dense grads', () => {
      const weights = randomTensor([3, 5, 6], 710);
      const w = randomTensor([9, 6], 712);
      return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, w), weights)))(randomTensor([3, 5, 9], 711));
    });
  });

  test('matMul with transposes and batched attention-style products', async () => {
    await compareBackends('transposed matMul grads', () => {
      const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.matMul(a, b, true, true)));
      return tf.grads(loss)([randomTensor([13, 6], 720), randomTensor([8, 13], 721)]);
    });
    await compareBackends('batched matMul grads', () => {
      const loss = (q: tf.Tensor, k: tf.Tensor) => tf.sum(tf.square(tf.matMul(q, k, false, true)));
      return tf.grads(loss)([randomTensor([4, 7, 5], 730), randomTensor([4, 9, 5], 731)]);
    });
  });
});

// ---------------------------------------------------------------- no leaks over a training-like loop

test('repeated forward and backward passes leave no tensors or wasm buffers behind', async () => {
  for (let round = 0; round < 3; round++) {
    await runOn('wasm', () => {
      const x = randomTensor([4, 4, 4, 8], 800);
      const filter = randomTensor([4, 4, 3, 8], 801);
      const w = randomTensor([48, 10], 802);
      const loss = (input: tf.Tensor, f: tf.Tensor, dense: tf.Tensor) => {
        const up = tf.conv2dTranspose(input as tf.Tensor4D, f as tf.Tensor4D, [4, 8, 8, 3], 2, 'same');
        const pooled = tf.reshape(tf.conv2d(up, f as unknown as tf.Tensor4D, 2, 'same').slice([0, 0, 0, 0], [4, 2, 2, 8]), [4, 32]);
        return tf.sum(tf.matMul(tf.concat([pooled, tf.ones([4, 16])], 1), dense));
      };
      return tf.grads(loss)([x, filter, w]);
    });
  }
});
