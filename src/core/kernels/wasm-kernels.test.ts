/**
 * genloom's wasm kernels against the tfjs cpu backend (the reference), kernel by kernel and through
 * tf.grad end to end, plus a finite-difference gradient check and leak checks on wasm.
 *
 * Run: node --import tsx --test src/core/kernels/wasm-kernels.test.ts
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../tf.ts';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels, WASM_KERNEL_CONFIGS } from './wasm-kernels.ts';
import {
  assertClose,
  compareBackends,
  describePad,
  forwardOutShape,
  randomTensor,
  randomValues,
  runOn,
  spreadFilter,
  type BackendName,
  type Pad,
  type RoundingMode,
  type Shape4,
} from './wasm-kernels.test-util.ts';

before(async () => {
  // '../tf.ts' loads the @tensorflow/tfjs union package, which registers the gradients tf.grad needs.
  registerWasmKernels();
  assert.ok(await tf.setBackend('wasm'));
  await tf.ready();
});

// ---------------------------------------------------------------- registration

describe('registerWasmKernels', () => {
  test('registers every kernel for wasm and is idempotent', () => {
    const kernelFunctionsBefore = WASM_KERNEL_CONFIGS.map((config) => tf.getKernel(config.kernelName, 'wasm')?.kernelFunc);
    assert.doesNotThrow(() => registerWasmKernels());
    assert.doesNotThrow(() => registerWasmKernels());
    const names = WASM_KERNEL_CONFIGS.map((config) => config.kernelName).sort();
    assert.deepEqual(names, ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum']);
    WASM_KERNEL_CONFIGS.forEach((config, index) => {
      const kernel = tf.getKernel(config.kernelName, 'wasm');
      assert.ok(kernel, `${config.kernelName} registered`);
      assert.equal(kernel.kernelFunc, kernelFunctionsBefore[index], `${config.kernelName} not replaced by a second call`);
    });
  });
});

// ---------------------------------------------------------------- Conv2DBackpropFilter

interface Conv2DCase {
  xShape: Shape4;
  filterShape: Shape4;
  strides: number | [number, number];
  pad: Pad;
  roundingMode?: RoundingMode;
}

const conv2DCases: Conv2DCase[] = [
  { xShape: [1, 5, 5, 1], filterShape: [3, 3, 1, 2], strides: 1, pad: 'same' },
  { xShape: [2, 7, 6, 3], filterShape: [3, 2, 3, 4], strides: 2, pad: 'same' },
  { xShape: [3, 9, 7, 2], filterShape: [4, 4, 2, 3], strides: 2, pad: 'valid' },
  { xShape: [2, 6, 5, 3], filterShape: [3, 3, 3, 2], strides: [1, 2], pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { xShape: [2, 8, 7, 2], filterShape: [3, 3, 2, 2], strides: 2, pad: 1, roundingMode: 'ceil' },
  { xShape: [1, 9, 8, 2], filterShape: [2, 3, 2, 3], strides: [2, 3], pad: 2, roundingMode: 'floor' },
  { xShape: [1, 4, 4, 5], filterShape: [1, 1, 5, 3], strides: 1, pad: 'valid' },
  { xShape: [2, 5, 5, 2], filterShape: [5, 5, 2, 3], strides: 3, pad: 'same' },
  // inChannels >= 4 takes the kernel's pixel-major im2col path; the cases above the row-major one.
  { xShape: [4, 8, 8, 8], filterShape: [4, 4, 8, 16], strides: 2, pad: 'same' },
  { xShape: [3, 7, 6, 6], filterShape: [3, 2, 6, 5], strides: [2, 1], pad: [[0, 0], [2, 0], [1, 1], [0, 0]] },
  { xShape: [2, 9, 8, 4], filterShape: [3, 3, 4, 3], strides: 2, pad: 1, roundingMode: 'round' },
  { xShape: [1, 11, 9, 5], filterShape: [5, 4, 5, 2], strides: 3, pad: 'valid' },
  // One output channel (a greyscale image layer): the direct path.
  { xShape: [2, 6, 5, 4], filterShape: [3, 3, 4, 1], strides: 1, pad: 'same' },
  { xShape: [3, 9, 8, 3], filterShape: [4, 4, 3, 1], strides: 2, pad: 'valid' },
];

describe('Conv2DBackpropFilter on wasm matches cpu', () => {
  conv2DCases.forEach((testCase, caseIndex) => {
    const { xShape, filterShape, strides, pad, roundingMode } = testCase;
    test(`x [${xShape}] filter [${filterShape}] strides ${strides} pad ${describePad(pad)} rounding ${roundingMode ?? 'none'}`, async () => {
      const dyShape = forwardOutShape(xShape, filterShape, strides, 1, pad, roundingMode, false);
      await compareBackends('dW', () =>
        tf.engine().runKernel(
          tf.Conv2DBackpropFilter,
          { x: randomTensor(xShape, 100 + caseIndex), dy: randomTensor(dyShape, 200 + caseIndex) },
          { strides, pad, dataFormat: 'NHWC', dimRoundingMode: roundingMode, filterShape } as unknown as tf.NamedAttrMap,
        ),
      );
    });
  });

  test('rejects NCHW with a clear error', async () => {
    await tf.setBackend('wasm');
    const tensorsBefore = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.zeros([1, 2, 5, 5]);
      const dy = tf.zeros([1, 3, 5, 5]);
      assert.throws(
        () => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 2, 3] }),
        /NCHW.*NHWC/,
      );
    });
    assert.equal(tf.memory().numTensors, tensorsBefore);
  });

  test('rejects a dy whose shape does not match the geometry', async () => {
    await tf.setBackend('wasm');
    tf.tidy(() => {
      const x = tf.zeros([1, 6, 6, 2]);
      const dy = tf.zeros([1, 6, 6, 3]); // stride 2 'same' implies [1, 3, 3, 3]
      assert.throws(
        () => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 2, 3] }),
        /dy.*\[1, 3, 3, 3\]/,
      );
    });
  });
});

// ---------------------------------------------------------------- depthwise backprops

interface DepthwiseCase {
  xShape: Shape4;
  filterShape: Shape4;
  strides: number | [number, number];
  pad: Pad;
  roundingMode?: RoundingMode;
  dilations?: [number, number];
}

const depthwiseCases: DepthwiseCase[] = [
  { xShape: [1, 5, 5, 1], filterShape: [3, 3, 1, 1], strides: 1, pad: 'same' },
  { xShape: [2, 7, 6, 3], filterShape: [3, 3, 3, 2], strides: 2, pad: 'same' },
  { xShape: [3, 8, 7, 2], filterShape: [2, 3, 2, 3], strides: [2, 1], pad: 'valid' },
  { xShape: [2, 6, 7, 3], filterShape: [3, 3, 3, 1], strides: 1, pad: [[0, 0], [2, 1], [1, 0], [0, 0]] },
  { xShape: [2, 9, 8, 2], filterShape: [3, 3, 2, 2], strides: 2, pad: 1, roundingMode: 'ceil' },
  { xShape: [1, 6, 9, 4], filterShape: [4, 2, 4, 1], strides: [3, 2], pad: 'same' },
  // Dilated cases: the cpu reference runs the equivalent spread-out filter with dilation 1.
  { xShape: [2, 9, 9, 2], filterShape: [3, 3, 2, 2], strides: 1, pad: 'same', dilations: [2, 2] },
  { xShape: [1, 11, 10, 3], filterShape: [2, 3, 3, 1], strides: 1, pad: 'valid', dilations: [2, 3] },
  { xShape: [2, 10, 9, 2], filterShape: [3, 2, 2, 2], strides: 2, pad: 'same', dilations: [2, 2] },
];

describe('Depthwise conv backprops on wasm match cpu', () => {
  depthwiseCases.forEach((testCase, caseIndex) => {
    const { xShape, filterShape, strides, pad, roundingMode } = testCase;
    const dilations = testCase.dilations ?? [1, 1];
    const isDilated = dilations[0] > 1 || dilations[1] > 1;
    const title = `x [${xShape}] filter [${filterShape}] strides ${strides} pad ${describePad(pad)} dilations ${dilations} rounding ${roundingMode ?? 'none'}`;
    const dyShape = forwardOutShape(xShape, filterShape, strides, dilations, pad, roundingMode, true);
    const xValues = randomValues(tf.util.sizeFromShape(xShape), 300 + caseIndex);
    const dyValues = randomValues(tf.util.sizeFromShape(dyShape), 400 + caseIndex);
    const filterValues = randomValues(tf.util.sizeFromShape(filterShape), 500 + caseIndex);
    const spread = spreadFilter(filterValues, filterShape, dilations);

    test(`filter gradient: ${title}`, async () => {
      const attrs = (backendName: BackendName) =>
        ({
          strides,
          pad,
          dimRoundingMode: roundingMode,
          dilations: backendName === 'wasm' ? dilations : [1, 1],
          filterShape: backendName === 'wasm' ? filterShape : spread.shape,
        }) as unknown as tf.NamedAttrMap;
      const run = (backendName: BackendName) => () =>
        tf.engine().runKernel(
          tf.DepthwiseConv2dNativeBackpropFilter,
          { x: tf.tensor(xValues, xShape), dy: tf.tensor(dyValues, dyShape) },
          attrs(backendName),
        );
      const [expectedSpread] = await runOn('cpu', run('cpu'));
      const [actual] = await runOn('wasm', run('wasm'));
      // Read the reference back at the real taps of the spread-out filter.
      const expectedValues = new Float32Array(filterValues.length);
      const depth = filterShape[2] * filterShape[3];
      for (let row = 0; row < filterShape[0]; row++) {
        for (let column = 0; column < filterShape[1]; column++) {
          const source = (row * dilations[0] * spread.shape[1] + column * dilations[1]) * depth;
          expectedValues.set(expectedSpread.values.subarray(source, source + depth), (row * filterShape[1] + column) * depth);
        }
      }
      assertClose(actual, { shape: filterShape, values: expectedValues }, 'dFilter');
    });

    test(`input gradient: ${title}`, async () => {
      const run = (backendName: BackendName) => () =>
        tf.engine().runKernel(
          tf.DepthwiseConv2dNativeBackpropInput,
          {
            dy: tf.tensor(dyValues, dyShape),
            filter: backendName === 'wasm' ? tf.tensor(filterValues, filterShape) : tf.tensor(spread.values, spread.shape),
          },
          {
            strides,
            pad,
            dimRoundingMode: roundingMode,
            dilations: backendName === 'wasm' ? dilations : [1, 1],
            inputShape: xShape,
          } as unknown as tf.NamedAttrMap,
        );
      const [expected] = await runOn('cpu', run('cpu'));
      const [actual] = await runOn('wasm', run('wasm'));
      assertClose(actual, expected, 'dx');
    });

    if (isDilated && strides === 1) {
      // Independent of the cpu backend: both gradients are adjoints of the forward op, which wasm
      // implements natively (with dilation), so <conv(x, f), dy> = <x, dX(dy, f)> = <f, dF(x, dy)>.
      test(`adjoint identity against the native wasm forward op: ${title}`, async () => {
        const [products] = await runOn('wasm', () => {
          const x = tf.tensor4d(xValues, xShape);
          const filter = tf.tensor4d(filterValues, filterShape);
          const dy = tf.tensor4d(dyValues, dyShape);
          const forward = tf.depthwiseConv2d(x, filter, strides, pad as 'same' | 'valid', 'NHWC', dilations, roundingMode);
          const dx = tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter }, {
            strides, pad, dimRoundingMode: roundingMode, dilations, inputShape: xShape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor;
          const dFilter = tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, {
            strides, pad, dimRoundingMode: roundingMode, dilations, filterShape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor;
          return tf.stack([tf.sum(tf.mul(forward, dy)), tf.sum(tf.mul(x, dx)), tf.sum(tf.mul(filter, dFilter))]);
        });
        const [viaForward, viaInputGradient, viaFilterGradient] = products.values;
        assert.ok(Math.abs(viaForward - viaInputGradient) <= 1e-4 * Math.max(1, Math.abs(viaForward)), `${viaForward} vs ${viaInputGradient}`);
        assert.ok(Math.abs(viaForward - viaFilterGradient) <= 1e-4 * Math.max(1, Math.abs(viaForward)), `${viaForward} vs ${viaFilterGradient}`);
      });
    }
  });
});

// ---------------------------------------------------------------- UnsortedSegmentSum

interface SegmentCase {
  xShape: number[];
  segmentIds: number[];
  numSegments: number;
  dtype: 'float32' | 'int32';
}

const segmentCases: SegmentCase[] = [
  { xShape: [6], segmentIds: [0, 2, 2, 5, 0, 1], numSegments: 6, dtype: 'float32' },
  { xShape: [5, 3], segmentIds: [4, 0, 4, 4, 1], numSegments: 8, dtype: 'float32' }, // gaps, repeats, numSegments > max id + 1
  { xShape: [7, 2, 3], segmentIds: [3, 3, 0, 6, 3, 1, 6], numSegments: 9, dtype: 'float32' },
  { xShape: [4, 5], segmentIds: [1, -1, 1, 7], numSegments: 3, dtype: 'float32' }, // out-of-range ids are dropped
  { xShape: [6, 4], segmentIds: [2, 0, 2, 2, 5, 0], numSegments: 7, dtype: 'int32' },
  { xShape: [1, 8], segmentIds: [0], numSegments: 1, dtype: 'float32' },
];

describe('UnsortedSegmentSum on wasm matches cpu', () => {
  segmentCases.forEach((testCase, caseIndex) => {
    const { xShape, segmentIds, numSegments, dtype } = testCase;
    test(`${dtype} x [${xShape}] ids [${segmentIds}] numSegments ${numSegments}`, async () => {
      const xValues = randomValues(tf.util.sizeFromShape(xShape), 600 + caseIndex).map((value) => (dtype === 'int32' ? Math.round(value * 100) : value));
      const expected = await runOn('cpu', () =>
        tf.unsortedSegmentSum(tf.tensor(xValues, xShape, dtype), tf.tensor1d(segmentIds, 'int32'), numSegments),
      );
      const actual = await runOn('wasm', () => {
        const output = tf.unsortedSegmentSum(tf.tensor(xValues, xShape, dtype), tf.tensor1d(segmentIds, 'int32'), numSegments);
        assert.equal(output.dtype, dtype, 'output keeps the input dtype');
        return output;
      });
      assertClose(actual[0], expected[0], 'segment sums');
    });
  });
});

// ---------------------------------------------------------------- gradients end to end

describe('gradients through tf.grad on wasm match cpu', () => {
  const convGradCases: Conv2DCase[] = [
    { xShape: [2, 7, 7, 3], filterShape: [3, 3, 3, 4], strides: 2, pad: 'same' },
    { xShape: [1, 6, 5, 2], filterShape: [2, 2, 2, 3], strides: 1, pad: 'valid' },
    { xShape: [3, 8, 6, 2], filterShape: [3, 3, 2, 2], strides: [2, 1], pad: [[0, 0], [1, 1], [2, 0], [0, 0]] },
    { xShape: [2, 9, 9, 6], filterShape: [4, 4, 6, 5], strides: 2, pad: 'same' },
  ];
  convGradCases.forEach(({ xShape, filterShape, strides, pad }, caseIndex) => {
    test(`conv2d: x [${xShape}] filter [${filterShape}] strides ${strides} pad ${describePad(pad)}`, async () => {
      const outShape = forwardOutShape(xShape, filterShape, strides, 1, pad, undefined, false);
      await compareBackends('conv2d grads', () => {
        const weights = randomTensor(outShape, 700 + caseIndex);
        const loss = (x: tf.Tensor, filter: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, strides, pad as 'same', 'NHWC'), weights));
        return tf.grads(loss)([randomTensor(xShape, 710 + caseIndex), randomTensor(filterShape, 720 + caseIndex)]);
      });
    });
  });

  test('conv2dTranspose: x [2,4,4,3] filter [3,3,2,3] -> [2,8,8,2] stride 2 same, and stride 1 valid', async () => {
    const transposeCases = [
      { xShape: [2, 4, 4, 3] as Shape4, filterShape: [3, 3, 2, 3] as Shape4, outputShape: [2, 8, 8, 2] as Shape4, strides: 2, pad: 'same' as const },
      { xShape: [1, 5, 4, 2] as Shape4, filterShape: [2, 3, 3, 2] as Shape4, outputShape: [1, 6, 6, 3] as Shape4, strides: 1, pad: 'valid' as const },
    ];
    for (const [caseIndex, { xShape, filterShape, outputShape, strides, pad }] of transposeCases.entries()) {
      await compareBackends(`conv2dTranspose grads case ${caseIndex}`, () => {
        const weights = randomTensor(outputShape, 800 + caseIndex);
        const loss = (x: tf.Tensor, filter: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2dTranspose(x as tf.Tensor4D, filter as tf.Tensor4D, outputShape, strides, pad), weights));
        return tf.grads(loss)([randomTensor(xShape, 810 + caseIndex), randomTensor(filterShape, 820 + caseIndex)]);
      });
    }
  });

  const depthwiseGradCases: DepthwiseCase[] = [
    { xShape: [2, 7, 6, 3], filterShape: [3, 3, 3, 2], strides: 2, pad: 'same' },
    { xShape: [1, 5, 5, 2], filterShape: [2, 2, 2, 1], strides: 1, pad: 'valid' },
    { xShape: [2, 6, 6, 1], filterShape: [3, 3, 1, 4], strides: [1, 2], pad: 'same' },
  ];
  depthwiseGradCases.forEach(({ xShape, filterShape, strides, pad }, caseIndex) => {
    test(`depthwiseConv2d: x [${xShape}] filter [${filterShape}] strides ${strides} pad ${describePad(pad)}`, async () => {
      const outShape = forwardOutShape(xShape, filterShape, strides, 1, pad, undefined, true);
      await compareBackends('depthwiseConv2d grads', () => {
        const weights = randomTensor(outShape, 900 + caseIndex);
        const loss = (x: tf.Tensor, filter: tf.Tensor) =>
          tf.sum(tf.mul(tf.depthwiseConv2d(x as tf.Tensor4D, filter as tf.Tensor4D, strides, pad as 'same'), weights));
        return tf.grads(loss)([randomTensor(xShape, 910 + caseIndex), randomTensor(filterShape, 920 + caseIndex)]);
      });
    });
  });

  test('gather (embedding lookup): axis 0 with rank-2 repeated indices, and axis 1', async () => {
    const gatherCases = [
      { tableShape: [10, 4], indices: [[1, 3, 3], [9, 0, 1]], axis: 0, outShape: [2, 3, 4] },
      { tableShape: [3, 6, 2], indices: [5, 0, 5, 2], axis: 1, outShape: [3, 4, 2] },
    ];
    for (const [caseIndex, { tableShape, indices, axis, outShape }] of gatherCases.entries()) {
      await compareBackends(`gather grad case ${caseIndex}`, () => {
        const weights = randomTensor(outShape, 1000 + caseIndex);
        const indexTensor = tf.tensor(indices, undefined, 'int32');
        const loss = (table: tf.Tensor) => tf.sum(tf.mul(tf.gather(table, indexTensor, axis), weights));
        return tf.grad(loss)(randomTensor(tableShape, 1010 + caseIndex));
      });
    }
  });
});

// ---------------------------------------------------------------- finite differences on wasm

describe('finite-difference gradient check on wasm', () => {
  test('conv2d x [1,5,5,2] filter [3,3,2,2] stride 2 same, loss sum(w * tanh(conv))', async () => {
    await tf.setBackend('wasm');
    const xShape: Shape4 = [1, 5, 5, 2];
    const filterShape: Shape4 = [3, 3, 2, 2];
    const xValues = randomValues(tf.util.sizeFromShape(xShape), 1100);
    const filterValues = randomValues(tf.util.sizeFromShape(filterShape), 1101);
    const outShape = forwardOutShape(xShape, filterShape, 2, 1, 'same', undefined, false);
    const weightValues = randomValues(tf.util.sizeFromShape(outShape), 1102);
    const tensorsBefore = tf.memory().numTensors;

    const lossOf = (x: tf.Tensor4D, filter: tf.Tensor4D): tf.Scalar =>
      tf.sum(tf.mul(tf.tanh(tf.conv2d(x, filter, 2, 'same')), tf.tensor(weightValues, outShape)));
    const lossAt = (xData: Float32Array, filterData: Float32Array): number =>
      tf.tidy(() => lossOf(tf.tensor4d(xData, xShape), tf.tensor4d(filterData, filterShape)).dataSync()[0]);
    const [analyticX, analyticFilter] = tf.tidy(() => {
      const [gradX, gradFilter] = tf.grads((x: tf.Tensor, filter: tf.Tensor) => lossOf(x as tf.Tensor4D, filter as tf.Tensor4D))([
        tf.tensor4d(xValues, xShape),
        tf.tensor4d(filterValues, filterShape),
      ]);
      return [gradX.dataSync(), gradFilter.dataSync()];
    });

    // Central differences in float32: epsilon 1e-2 keeps the O(eps^2) truncation error and the
    // float32 rounding of the loss (~1e-6 / 2e-2) both well under the tolerance.
    const epsilon = 1e-2;
    const checkAgainst = (values: Float32Array, analytic: ArrayLike<number>, label: string, lossWith: (perturbed: Float32Array) => number) => {
      for (let index = 0; index < values.length; index++) {
        const perturbed = values.slice();
        perturbed[index] = values[index] + epsilon;
        const lossPlus = lossWith(perturbed);
        perturbed[index] = values[index] - epsilon;
        const lossMinus = lossWith(perturbed);
        const numeric = (lossPlus - lossMinus) / (2 * epsilon);
        const difference = Math.abs(numeric - analytic[index]);
        assert.ok(difference <= 2e-3 + 1e-2 * Math.abs(analytic[index]), `${label}[${index}]: numeric ${numeric} vs analytic ${analytic[index]}`);
      }
    };
    checkAgainst(filterValues, analyticFilter, 'dLoss/dFilter', (perturbed) => lossAt(xValues, perturbed));
    checkAgainst(xValues, analyticX, 'dLoss/dx', (perturbed) => lossAt(perturbed, filterValues));
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensors leaked');
  });
});
