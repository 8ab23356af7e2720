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
/** conv2d with a bias per output channel and an activation (0 linear, 1 relu, 2 relu6, 3 leaky relu, 4 sigmoid, 5 elu). */
export function conv2dFused(x: Float32Array, filter: Float32Array, out: Float32Array, geometry: Int32Array, bias: Float32Array | null, activation: number, alpha: number): void;
export function conv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, geometry: Int32Array): void;
export function conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dfilter: Float32Array, geometry: Int32Array): void;
/** Layer norm over rows; keeps x̂ (normalized) and 1/σ (rstd, one per row) for the gradient. */
export function layerNorm(x: Float32Array, gain: Float32Array, bias: Float32Array | null, y: Float32Array, normalized: Float32Array, rstd: Float32Array, rows: number, cols: number, epsilon: number): void;
export function layerNormGrad(dy: Float32Array, normalized: Float32Array, rstd: Float32Array, gain: Float32Array, dx: Float32Array, dgain: Float32Array, dbias: Float32Array | null, rows: number, cols: number): void;
/** Group norm over [batch, pixels, channels] (+ SiLU); keeps x̂ and rstd [batch, groups]. */
export function groupNorm(x: Float32Array, scale: Float32Array, shift: Float32Array, y: Float32Array, normalized: Float32Array, rstd: Float32Array, batch: number, pixels: number, channels: number, groups: number, epsilon: number, silu: boolean): void;
export function groupNormGrad(dy: Float32Array, normalized: Float32Array, rstd: Float32Array, scale: Float32Array, shift: Float32Array, dx: Float32Array, dscale: Float32Array, dshift: Float32Array, batch: number, pixels: number, channels: number, groups: number, silu: boolean): void;
/** GELU, tanh approximation. */
export function gelu(x: Float32Array, y: Float32Array): void;
export function geluGrad(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
/** Writes the mean loss to loss[0] and the softmax to probabilities; returns the first row whose target is outside [0, cols), or -1. */
export function softmaxCrossEntropy(logits: Float32Array, targets: Int32Array, probabilities: Float32Array, loss: Float64Array, rows: number, cols: number): number;
export function softmaxCrossEntropyGrad(probabilities: Float32Array, targets: Int32Array, scale: number, dlogits: Float32Array, rows: number, cols: number): void;
/** Causal self-attention from qkv [batch·length, 3·heads·headDim] to out [batch·length, heads·headDim]; logsumexp [batch, heads, length]. */
export function causalAttention(qkv: Float32Array, out: Float32Array, logsumexp: Float32Array, batch: number, length: number, heads: number, headDim: number, scale: number): void;
export function causalAttentionGrad(qkv: Float32Array, out: Float32Array, dout: Float32Array, logsumexp: Float32Array, dqkv: Float32Array, batch: number, length: number, heads: number, headDim: number, scale: number): void;
/** Generation: writes the new tokens' keys and values into the caches [batch, heads, capacity, headDim] at `start` and attends over positions ≤ each query's. */
export function cachedAttention(qkv: Float32Array, keyCache: Float32Array, valueCache: Float32Array, out: Float32Array, batch: number, length: number, heads: number, headDim: number, start: number, capacity: number, scale: number): void;
/** Σ x² in double, in a fixed order. */
export function sumOfSquares(x: Float32Array): number;
/** One AdamW step of one parameter into new arrays; step = [lr, β1, β2, ε, decay, 1−β1^t, 1−β2^t, gradScale]. */
export function adamw(theta: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, newTheta: Float32Array, newM: Float32Array, newV: Float32Array, step: Float64Array): void;
/** A whole LSTM layer, time-major: projected [T, B, 4H] → states, cells [T, B, H] and activated gates [T, B, 4H]. */
export function lstmSequence(projected: Float32Array, recurrent: Float32Array, states: Float32Array, cells: Float32Array, gates: Float32Array, steps: number, batch: number, hidden: number): void;
export function lstmSequenceGrad(dstates: Float32Array, gates: Float32Array, cells: Float32Array, recurrent: Float32Array, dprojected: Float32Array, steps: number, batch: number, hidden: number): void;
/** A whole GRU layer: projected [T, B, 3H] → states [T, B, H] and r, z, n, h·U_n + c_n [T, B, 4H]. */
export function gruSequence(projected: Float32Array, recurrent: Float32Array, recurrentBias: Float32Array, states: Float32Array, gates: Float32Array, steps: number, batch: number, hidden: number): void;
export function gruSequenceGrad(dstates: Float32Array, gates: Float32Array, states: Float32Array, recurrent: Float32Array, dprojected: Float32Array, dterm: Float32Array, steps: number, batch: number, hidden: number): void;
/** Nearest-neighbour resize of NHWC images: output pixel (r, c) = input (rowMap[r], colMap[c]). */
export function resizeNearest(x: Float32Array | Int32Array, out: Float32Array | Int32Array, batch: number, inHeight: number, inWidth: number, channels: number, rowMap: Int32Array, colMap: Int32Array): void;
export function resizeNearestGrad(dy: Float32Array, dx: Float32Array, batch: number, inHeight: number, inWidth: number, channels: number, rowMap: Int32Array, colMap: Int32Array): void;
export function setThreads(threads: number): number;
export function threads(): number;
/** The GEMM micro-kernel this CPU gets: 'avx512', 'avx2' or 'scalar'. */
export function isa(): string;
