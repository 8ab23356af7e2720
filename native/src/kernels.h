// Elementwise, reduction and layout kernels on float32 (layout kernels move any 4-byte element).
#pragma once
#include <cstdint>
#include <vector>
#include "pool.h"

enum class BinaryOp : int { Add, Sub, Mul, Div, Max, Min, SquaredDifference, Pow };
enum class CompareOp : int { Greater, GreaterEqual, Less, LessEqual, Equal, NotEqual };
enum class UnaryOp : int { Exp, Log, Neg, Sqrt, Rsqrt, Square, Tanh, Sigmoid, Relu, Abs, Reciprocal, Step, LeakyRelu, Elu, Sin, Cos, Relu6, Log1p, Softplus };
enum class ReduceOp : int { Sum, Mean, Max, Min };

// out[i] = a[...] op b[...] over outShape; a and b are addressed by strides (0 on a broadcast axis).
void binary(Pool& pool, BinaryOp op, const float* a, const float* b, float* out, const std::vector<int64_t>& outShape,
            const std::vector<int64_t>& aStrides, const std::vector<int64_t>& bStrides);

// out[i] = a[...] cmp b[...] as 0/1 bytes (tfjs bool tensors), addressed like binary().
void compare(Pool& pool, CompareOp op, const float* a, const float* b, uint8_t* out, const std::vector<int64_t>& outShape,
             const std::vector<int64_t>& aStrides, const std::vector<int64_t>& bStrides);

// out[i] = condition[i] ? t[i] : e[i], all of one length.
void select(Pool& pool, const uint8_t* condition, const float* t, const float* e, float* out, int64_t n);

void unary(Pool& pool, UnaryOp op, const float* x, float* out, int64_t n, float alpha);

// x viewed as [outer, size, inner], reduced over the middle axis into out [outer, inner].
void reduce(Pool& pool, ReduceOp op, const float* x, float* out, int64_t outer, int64_t size, int64_t inner);

// Softmax over the last axis of x viewed as [rows, cols].
void softmax(Pool& pool, const float* x, float* out, int64_t rows, int64_t cols);

// Copies a shape-sized block of 4-byte elements: element (i0, i1, ...) is read at
// src[Σ ik·srcStrides[k]] and written at dst[Σ ik·dstStrides[k]]. Transpose, slice, pad, concat
// and split are all this copy with different strides and offsets.
void copyStrided(Pool& pool, const uint32_t* src, const std::vector<int64_t>& srcStrides, uint32_t* dst,
                 const std::vector<int64_t>& dstStrides, const std::vector<int64_t>& shape);

// x viewed as [outer, axisSize, inner]; out [outer, indices, inner]. Returns the position of the
// first index outside [0, axisSize), or -1 when all are valid (nothing is written then).
int64_t gather(Pool& pool, const uint32_t* x, const int32_t* indices, int64_t count, uint32_t* out, int64_t outer,
               int64_t axisSize, int64_t inner);

// out [segments, inner] = sums of the rows of x [n, inner] by segment id; ids outside
// [0, segments) are dropped, as in TensorFlow.
void unsortedSegmentSum(Pool& pool, const float* x, const int32_t* ids, float* out, int64_t n, int64_t inner,
                        int64_t segments);

// Nearest-neighbour resizing of NHWC images [batch, inHeight, inWidth, channels] to
// [batch, rows, cols, channels]: output pixel (r, c) is input pixel (rowMap[r], colMap[c]).
void resizeNearest(Pool& pool, const uint32_t* x, uint32_t* out, int64_t batch, int64_t inHeight, int64_t inWidth,
                   int64_t channels, const int32_t* rowMap, int64_t rows, const int32_t* colMap, int64_t cols);
// Its gradient: each dy pixel added to the input pixel it was copied from, in ascending (r, c) order.
void resizeNearestGrad(Pool& pool, const float* dy, float* dx, int64_t batch, int64_t inHeight, int64_t inWidth,
                       int64_t channels, const int32_t* rowMap, int64_t rows, const int32_t* colMap, int64_t cols);
