/**
 * A faster BatchMatMul for the tfjs wasm backend, installed over the stock kernel.
 *
 * The stock kernel (tfjs-backend-wasm 4.22, batch_mat_mul_impl.cc) uses XNNPACK only when both
 * operands have batch size 1 and neither is transposed; every other call runs a scalar blocked
 * loop that is about 10x slower. Training hits that loop everywhere: the backward pass of a dense
 * layer is dY @ Wᵀ (transposeB) and Xᵀ @ dY (transposeA), and [B, M, K] @ [K, N] (a dense layer
 * over a sequence) has a batch dimension. This wrapper rewrites those calls into the fast form:
 *   - a transposed operand is materialised by a blocked transpose (O(size), well under the
 *     product's O(M·N·K)) and the product is taken in plain layout;
 *   - when b has no batch (or only 1s), a's batch folds into its rows: [B·M, K] @ [K, N] is one
 *     XNNPACK call whose row-major [B·M, N] output is already the [B, M, N] result (measured
 *     [12,64,128] @ [128,512]: stock 56 ms on a quiet machine, 154 under load; folded 6-8 ms
 *     under load);
 *   - a transposeB product with a big b and a small a (dY @ Wᵀ) is taken as Cᵀ = B op(A)ᵀ, so
 *     the big operand needs neither a transpose nor XNNPACK's packing (see directCost).
 * True batched products (b with a batch > 1) keep the stock loop, transposes included: measured on
 * [48, 64, 32]-sized operands, that loop takes 11-15 ms in every layout, the plain one included,
 * so materialising a transpose there would only add its cost.
 *
 * The cache caveat: XNNPACK's packed copy of b is cached under b's tensor id alone, and a reshape
 * shares its source's id. A tensor used as b with one [K, N] and later, through a reshaped view,
 * with another would be multiplied with the stale packing. The wrapper remembers the [K, N] each
 * buffer was first packed with and multiplies a private copy whenever a different one comes in.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { asWasmBackend, heapFloat32, overrideWasmKernel, runSingle } from './wasm-kernel-util.ts';

const KERNEL_NAME = tf.BatchMatMul;
const TRANSPOSE_BLOCK = 32;
/**
 * Output size per matrix from which a true batched product goes one matrix at a time through
 * XNNPACK rather than the stock loop; below it the per-call overhead (about 10 µs) wins.
 */
const GROUPED_MIN_OUTPUT = 256;

/** [K, N] that each buffer's cached XNNPACK packing was built for, keyed by the shared dataId object. */
const packedShapes = new WeakMap<object, string>();

/** Installs the wrapper over the stock wasm BatchMatMul. Idempotent; false if wasm is not loaded. */
export function registerWasmBatchMatMul(): boolean {
  return overrideWasmKernel(KERNEL_NAME, (stock) => ((args: Parameters<tf.KernelFunc>[0]) => batchMatMulWasm(stock, args)) as tf.KernelFunc);
}

function batchMatMulWasm(stock: tf.KernelConfig, args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { a, b } = args.inputs as unknown as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  const aRank = a.shape.length;
  const bRank = b.shape.length;
  // Anything the fast path does not cover goes to the stock kernel unchanged, which also raises
  // tfjs's own errors (dtype, mismatched inner dimensions, batch shapes that do not broadcast).
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || aRank < 2 || bRank < 2) return runSingle(stock, args);
  const rows = transposeA ? a.shape[aRank - 1] : a.shape[aRank - 2];
  const innerA = transposeA ? a.shape[aRank - 2] : a.shape[aRank - 1];
  const innerB = transposeB ? b.shape[bRank - 1] : b.shape[bRank - 2];
  const columns = transposeB ? b.shape[bRank - 2] : b.shape[bRank - 1];
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  if (innerA !== innerB || rows * innerA * columns === 0 || batchA === 0) return runSingle(stock, args);
  const outerShape = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  if (batchB !== 1) {
    const sameBatch = aRank === bRank && a.shape.slice(0, -2).every((size, i) => size === b.shape[i]);
    if (!sameBatch || rows * columns < GROUPED_MIN_OUTPUT) return runSingle(stock, args);
    return groupedBatchMatMul(stock, args, a, b, { transposeA, transposeB, rows, inner: innerA, columns, batch: batchA, outShape: [...outerShape, rows, columns] });
  }

  const backend = asWasmBackend(args.backend, KERNEL_NAME);
  const m = batchA * rows; // a's batch folds into its rows
  const outShape = [...outerShape, rows, columns];
  const temporaries: tf.TensorInfo[] = [];
  try {
    if (transposeB && (!transposeA || batchA === 1) && swappedCost(m, innerA, columns, transposeA) < directCost(m, innerA, columns, transposeA)) {
      // C = op(A) Bᵀ computed as Cᵀ = B op(A)ᵀ: B is already the plain left operand, and only the
      // (smaller) A side and the output get transposed and packed.
      const left: tf.TensorInfo = { dataId: b.dataId, shape: [1, columns, innerA], dtype: 'float32' };
      const right = transposeA
        ? withFreshPacking(backend, { dataId: a.dataId, shape: [1, innerA, m], dtype: 'float32' }, innerA, m, temporaries)
        : transposeMatrices(backend, { dataId: a.dataId, shape: [1, m, innerA], dtype: 'float32' }, temporaries);
      const outT = runSingle(stock, { inputs: { a: left, b: right }, backend, attrs: { transposeA: false, transposeB: false } });
      temporaries.push(outT);
      const out = transposeMatrices(backend, outT, null);
      return { dataId: out.dataId, shape: outShape, dtype: 'float32' };
    }
    const plainA = transposeA ? transposeMatrices(backend, a, temporaries) : a;
    const plainB = transposeB ? transposeMatrices(backend, b, temporaries) : b;
    // a is not cached by the matmul, so a view of its buffer with the batch folded in is safe.
    const viewA: tf.TensorInfo = { dataId: plainA.dataId, shape: [1, m, innerA], dtype: 'float32' };
    const viewB = withFreshPacking(backend, plainB, innerA, columns, temporaries);
    const out = runSingle(stock, { inputs: { a: viewA, b: viewB }, backend, attrs: { transposeA: false, transposeB: false } });
    return { dataId: out.dataId, shape: outShape, dtype: 'float32' };
  } finally {
    for (const temporary of temporaries) backend.disposeData(temporary.dataId);
  }
}

/**
 * A true batched product [G, M, K] @ [G, K, N] taken as G single products on XNNPACK's fast path.
 * Each matrix is copied into a small buffer of its own (a memcpy, O(size)): b's copy must be
 * fresh every time anyway, because XNNPACK caches its packing under the buffer's id. Measured on
 * attention's [48, 64, 32] @ [48, 32, 64] and its gradients: the stock loop 11-15 ms per call, this
 * about 2 ms.
 */
function groupedBatchMatMul(
  stock: tf.KernelConfig,
  args: Parameters<tf.KernelFunc>[0],
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  shape: { transposeA: boolean; transposeB: boolean; rows: number; inner: number; columns: number; batch: number; outShape: number[] },
): tf.TensorInfo {
  const { rows, inner, columns, batch, outShape } = shape;
  const backend = asWasmBackend(args.backend, KERNEL_NAME);
  const temporaries: tf.TensorInfo[] = [];
  try {
    const plainA = shape.transposeA ? transposeMatrices(backend, a, temporaries) : a;
    const plainB = shape.transposeB ? transposeMatrices(backend, b, temporaries) : b;
    const out = backend.makeOutput(outShape, 'float32');
    // Freed with the temporaries if a product throws; handed to the caller otherwise.
    temporaries.push(out);
    // a is not cached by XNNPACK, so one buffer serves every group's left operand.
    const left = backend.makeOutput([1, rows, inner], 'float32');
    temporaries.push(left);
    const aSize = rows * inner;
    const bSize = inner * columns;
    const outSize = rows * columns;
    for (let group = 0; group < batch; group++) {
      const right = backend.makeOutput([1, inner, columns], 'float32');
      // Views are taken after each allocation: growing the heap detaches earlier ones.
      heapFloat32(backend, left).set(heapFloat32(backend, plainA).subarray(group * aSize, (group + 1) * aSize));
      heapFloat32(backend, right).set(heapFloat32(backend, plainB).subarray(group * bSize, (group + 1) * bSize));
      const product = runSingle(stock, { inputs: { a: left, b: right }, backend, attrs: { transposeA: false, transposeB: false } });
      heapFloat32(backend, out).set(heapFloat32(backend, product), group * outSize);
      backend.disposeData(product.dataId);
      backend.disposeData(right.dataId);
    }
    temporaries.splice(temporaries.indexOf(out), 1);
    return { dataId: out.dataId, shape: outShape, dtype: 'float32' };
  } finally {
    for (const temporary of temporaries) backend.disposeData(temporary.dataId);
  }
}

/**
 * Floats moved outside the product itself (transposes, plus XNNPACK packing its right operand),
 * the cost that decides between the two ways of taking a transposeB product. Measured with
 * M x K x N: 128x256x3136 direct 16-24 ms, swapped 12; 128x3136x256 18-26 vs 12-16; 768x512x128
 * 5 vs 8: the model picks the faster in all three.
 */
function directCost(m: number, k: number, n: number, transposeA: boolean): number {
  return (transposeA ? m * k : 0) + 2 * n * k;
}

function swappedCost(m: number, k: number, n: number, transposeA: boolean): number {
  return (transposeA ? 0 : m * k) + m * k + m * n;
}

/**
 * x with its last two axes swapped, into a new buffer that joins `temporaries` (if given). A blocked JS loop
 * over the heap rather than wasm's Transpose kernel: measured on [256, 3136] and [3136, 256]
 * (a dense layer's weight), wasm's takes 6-9 ms, this 2.5-3.5 ms; 32x32 float blocks keep both
 * the read and the write side of each block in L1.
 */
function transposeMatrices(backend: BackendWasm, x: tf.TensorInfo, temporaries: tf.TensorInfo[] | null): tf.TensorInfo {
  const rank = x.shape.length;
  const rows = x.shape[rank - 2];
  const columns = x.shape[rank - 1];
  const transposed = backend.makeOutput([...x.shape.slice(0, -2), columns, rows], 'float32');
  temporaries?.push(transposed);
  const source = heapFloat32(backend, x);
  const target = heapFloat32(backend, transposed);
  const matrixSize = rows * columns;
  for (let offset = 0; offset < source.length; offset += matrixSize) {
    for (let row0 = 0; row0 < rows; row0 += TRANSPOSE_BLOCK) {
      const row1 = Math.min(rows, row0 + TRANSPOSE_BLOCK);
      for (let column0 = 0; column0 < columns; column0 += TRANSPOSE_BLOCK) {
        const column1 = Math.min(columns, column0 + TRANSPOSE_BLOCK);
        for (let row = row0; row < row1; row++) {
          let from = offset + row * columns + column0;
          let to = offset + column0 * rows + row;
          for (let column = column0; column < column1; column++, from++, to += rows) target[to] = source[from];
        }
      }
    }
  }
  return transposed;
}

/**
 * b as the right operand of an XNNPACK product of shape [K, N]. The first use of a buffer records
 * its [K, N]; a later use with another shape (a reshaped view of the same data) gets a private copy,
 * which carries a new id and so a packing of its own, freed when the copy is disposed.
 */
function withFreshPacking(backend: BackendWasm, b: tf.TensorInfo, inner: number, columns: number, temporaries: tf.TensorInfo[]): tf.TensorInfo {
  const key = `${inner}x${columns}`;
  const recorded = packedShapes.get(b.dataId);
  if (recorded === undefined) packedShapes.set(b.dataId, key);
  if (recorded === undefined || recorded === key) return b;
  const copy = backend.makeOutput([1, inner, columns], 'float32');
  temporaries.push(copy);
  heapFloat32(backend, copy).set(heapFloat32(backend, b));
  return copy;
}
