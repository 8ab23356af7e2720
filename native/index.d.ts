/** genloom's native kernels. Every function writes into `out`, which the caller allocates. */
export function matmul(a: Float32Array, b: Float32Array, out: Float32Array, batch: number, m: number, n: number, k: number, batchStrideA: number, batchStrideB: number, transposeA: boolean, transposeB: boolean, bias: Float32Array | null, activation: number, alpha: number): void;
export function binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, outShape: Int32Array, aStrides: Int32Array, bStrides: Int32Array): void;
export function unary(op: number, x: Float32Array, out: Float32Array, alpha: number): void;
export function reduce(op: number, x: Float32Array, out: Float32Array, outer: number, size: number, inner: number): void;
export function softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
/** Comparisons write 0/1 bytes, the storage of tfjs bool tensors. */
export function compare(op: number, a: Float32Array, b: Float32Array, out: Uint8Array, outShape: Int32Array, aStrides: Int32Array, bStrides: Int32Array): void;
export function select(condition: Uint8Array, t: Float32Array, e: Float32Array, out: Float32Array): void;
/** Copies a `shape` block of 4-byte elements between two strided layouts (transpose, slice, pad, concat, split). */
export function copy(src: Float32Array | Int32Array, srcOffset: number, srcStrides: Int32Array, dst: Float32Array | Int32Array, dstOffset: number, dstStrides: Int32Array, shape: Int32Array): void;
/** Returns the position of the first index outside [0, axisSize), or -1 when all are valid. */
export function gather(x: Float32Array | Int32Array, indices: Int32Array, out: Float32Array | Int32Array, outer: number, axisSize: number, inner: number): number;
export function unsortedSegmentSum(x: Float32Array, ids: Int32Array, out: Float32Array, inner: number, segments: number): void;
/** geometry: batch, inH, inW, inC, outH, outW, outC, filterH, filterW, strideH, strideW, dilationH, dilationW, padTop, padLeft. */
export function conv2d(x: Float32Array, filter: Float32Array, out: Float32Array, geometry: Int32Array): void;
export function conv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, geometry: Int32Array): void;
export function conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dfilter: Float32Array, geometry: Int32Array): void;
export function setThreads(threads: number): number;
export function threads(): number;
/** The GEMM micro-kernel this CPU gets: 'avx512', 'avx2' or 'scalar'. */
export function isa(): string;
