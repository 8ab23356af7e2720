// Single-precision matrix products: C = op(A) · op(B) (+ C), batched, on the thread pool.
#pragma once
#include <cstddef>
#include <cstdint>
#include "pool.h"

// A strided view of a matrix: element (i, j) is data[i * rowStride + j * colStride]. A transposed
// operand is the same memory with the strides swapped, so no copy is ever made to transpose.
struct MatrixView {
  const float* data;
  ptrdiff_t rowStride;
  ptrdiff_t colStride;
  float at(int64_t i, int64_t j) const { return data[i * rowStride + j * colStride]; }
};

// What runs on the output after the product, while the tile is still in cache.
enum class Activation : int { Linear = 0, Relu = 1, Relu6 = 2, LeakyRelu = 3, Sigmoid = 4, Elu = 5 };

struct Epilogue {
  const float* bias = nullptr;  // length N, added to every row
  Activation activation = Activation::Linear;
  float alpha = 0.f;            // LeakyRelu's slope
};

struct GemmShape {
  int64_t batch, m, n, k;
  ptrdiff_t batchStrideA, batchStrideB;  // 0 broadcasts one matrix over the batch
};

// C[b] (row-major, m x n, contiguous, batches back to back) = A[b] · B[b], or += when accumulate.
// pool == nullptr runs on the calling thread (for callers that already split work over the pool).
void gemm(Pool* pool, const GemmShape& shape, MatrixView a, MatrixView b, float* c, bool accumulate,
          const Epilogue& epilogue = Epilogue());

// Which micro-kernel this CPU gets: "avx512", "avx2" or "scalar" (GENLOOM_NATIVE_ISA can lower it).
const char* gemmIsa();
