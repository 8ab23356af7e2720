// GEMM in the style of BLIS/GotoBLAS: B is packed into kc x nc panels of NR-wide column strips, A
// into mc x kc blocks of MR-tall row strips, and a register-blocked micro-kernel multiplies one
// strip of each. The micro-kernel is chosen at run time from the CPU's features (the library itself
// is built for the baseline x86-64 so it loads everywhere).
#include "gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int64_t KC = 256;  // depth of a packed panel: an MR x KC strip of A stays in L1
constexpr int64_t MC = 96;   // rows per task: an MC x KC block of A stays in L2
constexpr int64_t NC = 512;  // columns per task: a KC x NC panel of B stays in L2

using MicroKernel = void (*)(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, bool accumulate);

struct Isa {
  const char* name;
  int mr, nr;
  MicroKernel kernel;
};

template <int MR, int NR>
void microKernelScalar(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, bool accumulate) {
  float acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; p++, ap += MR, bp += NR)
    for (int r = 0; r < MR; r++)
      for (int q = 0; q < NR; q++) acc[r][q] += ap[r] * bp[q];
  for (int r = 0; r < MR; r++)
    for (int q = 0; q < NR; q++) c[r * ldc + q] = (accumulate ? c[r * ldc + q] : 0.f) + acc[r][q];
}

__attribute__((target("avx2,fma"))) void microKernelAvx2(int64_t kc, const float* ap, const float* bp, float* c,
                                                         int64_t ldc, bool accumulate) {
  __m256 acc[6][2];
  for (int r = 0; r < 6; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int64_t p = 0; p < kc; p++, ap += 6, bp += 16) {
    const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
    for (int r = 0; r < 6; r++) {
      const __m256 a = _mm256_broadcast_ss(ap + r);
      acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
    }
  }
  for (int r = 0; r < 6; r++) {
    float* row = c + r * ldc;
    if (accumulate) {
      acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_loadu_ps(row));
      acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_loadu_ps(row + 8));
    }
    _mm256_storeu_ps(row, acc[r][0]);
    _mm256_storeu_ps(row + 8, acc[r][1]);
  }
}

__attribute__((target("avx512f"))) void microKernelAvx512(int64_t kc, const float* ap, const float* bp, float* c,
                                                          int64_t ldc, bool accumulate) {
  __m512 acc[12][2];
  for (int r = 0; r < 12; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; p++, ap += 12, bp += 32) {
    const __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
    for (int r = 0; r < 12; r++) {
      const __m512 a = _mm512_set1_ps(ap[r]);
      acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
    }
  }
  for (int r = 0; r < 12; r++) {
    float* row = c + r * ldc;
    if (accumulate) {
      acc[r][0] = _mm512_add_ps(acc[r][0], _mm512_loadu_ps(row));
      acc[r][1] = _mm512_add_ps(acc[r][1], _mm512_loadu_ps(row + 16));
    }
    _mm512_storeu_ps(row, acc[r][0]);
    _mm512_storeu_ps(row + 16, acc[r][1]);
  }
}

Isa chooseIsa() {
  const char* forced = std::getenv("GENLOOM_NATIVE_ISA");
  const std::string limit = forced ? forced : "";
  __builtin_cpu_init();
  if (limit != "avx2" && limit != "scalar" && __builtin_cpu_supports("avx512f")) return {"avx512", 12, 32, microKernelAvx512};
  if (limit != "scalar" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {"avx2", 6, 16, microKernelAvx2};
  return {"scalar", 4, 8, microKernelScalar<4, 8>};
}

const Isa& isa() {
  static const Isa chosen = chooseIsa();
  return chosen;
}

// A block of op(A) [mc x kc] into strips of MR rows, each stored k-major and zero-padded.
void packA(MatrixView a, int64_t row0, int64_t col0, int64_t mc, int64_t kc, int mr, float* out) {
  for (int64_t s = 0; s < mc; s += mr) {
    const int64_t rows = std::min<int64_t>(mr, mc - s);
    if (a.colStride == 1) {  // rows are contiguous: read along them
      for (int64_t r = 0; r < rows; r++) {
        const float* src = a.data + (row0 + s + r) * a.rowStride + col0;
        for (int64_t p = 0; p < kc; p++) out[p * mr + r] = src[p];
      }
    } else {
      for (int64_t p = 0; p < kc; p++)
        for (int64_t r = 0; r < rows; r++) out[p * mr + r] = a.at(row0 + s + r, col0 + p);
    }
    for (int64_t r = rows; r < mr; r++)
      for (int64_t p = 0; p < kc; p++) out[p * mr + r] = 0.f;
    out += kc * mr;
  }
}

// A panel of op(B) [kc x nc] into strips of NR columns, each stored k-major and zero-padded.
void packB(MatrixView b, int64_t row0, int64_t col0, int64_t kc, int64_t nc, int nr, float* out) {
  for (int64_t s = 0; s < nc; s += nr) {
    const int64_t cols = std::min<int64_t>(nr, nc - s);
    if (b.colStride == 1) {
      for (int64_t p = 0; p < kc; p++) {
        const float* src = b.data + (row0 + p) * b.rowStride + col0 + s;
        float* dst = out + p * nr;
        std::memcpy(dst, src, sizeof(float) * cols);
        for (int64_t q = cols; q < nr; q++) dst[q] = 0.f;
      }
    } else {  // columns are contiguous (a transposed operand): read down them
      for (int64_t q = 0; q < cols; q++) {
        const float* src = b.data + row0 * b.rowStride + (col0 + s + q) * b.colStride;
        for (int64_t p = 0; p < kc; p++) out[p * nr + q] = src[p * b.rowStride];
      }
      for (int64_t q = cols; q < nr; q++)
        for (int64_t p = 0; p < kc; p++) out[p * nr + q] = 0.f;
    }
    out += kc * nr;
  }
}

float activate(float x, const Epilogue& e) {
  switch (e.activation) {
    case Activation::Relu: return x > 0.f ? x : 0.f;
    case Activation::Relu6: return std::min(std::max(x, 0.f), 6.f);
    case Activation::LeakyRelu: return x < 0.f ? e.alpha * x : x;
    case Activation::Sigmoid: return 1.f / (1.f + std::exp(-x));
    case Activation::Elu: return x >= 0.f ? x : std::expm1(x);
    default: return x;
  }
}

// Bias and activation on columns [n0, n1) of one output row, while it is still in cache.
void finishRow(float* row, int64_t n0, int64_t n1, const Epilogue& epilogue) {
  if (!epilogue.bias && epilogue.activation == Activation::Linear) return;
  for (int64_t j = n0; j < n1; j++) row[j] = activate(row[j] + (epilogue.bias ? epilogue.bias[j] : 0.f), epilogue);
}

// Output rows [m0, m0+mc) x columns [n0, n0+nc) of one batch entry, over the full depth. Each
// kc-deep panel of B is packed once and used by every MC-row block of A below it. Every element is
// summed in the same order whatever the tiling, so results do not depend on how work is split.
void gemmTile(const GemmShape& s, MatrixView a, MatrixView b, float* c, int64_t m0, int64_t mc, int64_t n0,
              int64_t nc, bool accumulate, const Epilogue& epilogue) {
  const Isa& chosen = isa();
  const int mr = chosen.mr, nr = chosen.nr;
  thread_local std::vector<float> packedA, packedB;
  packedA.resize(static_cast<size_t>((MC + mr) * KC));
  packedB.resize(static_cast<size_t>(KC * (NC + nr)));
  alignas(64) float edge[12 * 32];
  const int64_t ldc = s.n;
  for (int64_t p0 = 0; p0 < s.k; p0 += KC) {
    const int64_t kc = std::min(KC, s.k - p0);
    const bool add = accumulate || p0 > 0;
    packB(b, p0, n0, kc, nc, nr, packedB.data());
    for (int64_t i0 = m0; i0 < m0 + mc; i0 += MC) {
      const int64_t rowsHere = std::min(MC, m0 + mc - i0);
      packA(a, i0, p0, rowsHere, kc, mr, packedA.data());
      for (int64_t jr = 0; jr < nc; jr += nr)
        for (int64_t ir = 0; ir < rowsHere; ir += mr) {
          const float* ap = packedA.data() + ir * kc;
          const float* bp = packedB.data() + jr * kc;
          float* out = c + (i0 + ir) * ldc + n0 + jr;
          const int64_t rows = std::min<int64_t>(mr, rowsHere - ir), cols = std::min<int64_t>(nr, nc - jr);
          if (rows == mr && cols == nr) {
            chosen.kernel(kc, ap, bp, out, ldc, add);
          } else {  // a ragged edge goes through a scratch tile
            chosen.kernel(kc, ap, bp, edge, nr, false);
            for (int64_t r = 0; r < rows; r++)
              for (int64_t q = 0; q < cols; q++) out[r * ldc + q] = (add ? out[r * ldc + q] : 0.f) + edge[r * nr + q];
          }
        }
    }
  }
  if (s.k == 0 && !accumulate)
    for (int64_t r = 0; r < mc; r++) std::fill_n(c + (m0 + r) * ldc + n0, nc, 0.f);
  for (int64_t r = 0; r < mc; r++) finishRow(c + (m0 + r) * ldc, n0, n0 + nc, epilogue);
}

// Products with a handful of rows (token-by-token generation: one row per sequence) skip packing,
// which would cost as much as the product: each output row is a sum of rows of B (row-major B) or
// a set of dot products (transposed B), over columns [n0, n1).
constexpr int64_t kFewRows = 4;

__attribute__((target_clones("avx512f", "avx2", "default")))
void gemmFewRows(const GemmShape& s, MatrixView a, MatrixView b, float* c, int64_t n0, int64_t n1, bool accumulate,
                 const Epilogue& epilogue) {
  for (int64_t i = 0; i < s.m; i++) {
    float* row = c + i * s.n;
    if (b.colStride == 1) {
      if (!accumulate) std::fill(row + n0, row + n1, 0.f);
      for (int64_t p = 0; p < s.k; p++) {
        const float weight = a.at(i, p);
        const float* source = b.data + p * b.rowStride;
        for (int64_t j = n0; j < n1; j++) row[j] += weight * source[j];
      }
    } else {
      for (int64_t j = n0; j < n1; j++) {
        const float* column = b.data + j * b.colStride;
        float sum = 0.f;
        for (int64_t p = 0; p < s.k; p++) sum += a.at(i, p) * column[p * b.rowStride];
        row[j] = (accumulate ? row[j] : 0.f) + sum;
      }
    }
    finishRow(row, n0, n1, epilogue);
  }
}

}  // namespace

const char* gemmIsa() { return isa().name; }

void gemm(Pool* pool, const GemmShape& s, MatrixView a, MatrixView b, float* c, bool accumulate,
          const Epilogue& epilogue) {
  if (s.batch == 0 || s.m == 0 || s.n == 0) return;
  // Threads pay off only on large products: below this, moving the operands and the output between
  // cores' caches costs more than the arithmetic saved (measured on the baby GPT's training step).
  const double flops = 2.0 * s.batch * s.m * s.n * s.k;
  const bool parallel = pool && pool->size() > 1 && flops >= 5e7;
  if (s.m <= kFewRows) {
    const int64_t columnChunk = 256, chunks = (s.n + columnChunk - 1) / columnChunk;
    auto part = [&](int64_t t) {
      const int64_t batch = t / chunks, n0 = (t % chunks) * columnChunk;
      const MatrixView ab{a.data + batch * s.batchStrideA, a.rowStride, a.colStride};
      const MatrixView bb{b.data + batch * s.batchStrideB, b.rowStride, b.colStride};
      gemmFewRows(s, ab, bb, c + batch * s.m * s.n, n0, std::min(s.n, n0 + columnChunk), accumulate, epilogue);
    };
    if (parallel) pool->run(s.batch * chunks, part);
    else for (int64_t t = 0; t < s.batch * chunks; t++) part(t);
    return;
  }
  const int64_t colBlocks = (s.n + NC - 1) / NC;
  // Row chunks: whole matrices on one thread; otherwise about two tasks per thread.
  int64_t rowChunks = 1;
  if (parallel) {
    const int64_t wanted = 2 * pool->size(), have = s.batch * colBlocks;
    if (have < wanted) rowChunks = std::min((wanted + have - 1) / have, (s.m + MC - 1) / MC);
  }
  const int64_t rowChunk = (s.m + rowChunks - 1) / rowChunks;
  const int64_t tiles = s.batch * rowChunks * colBlocks;
  auto tile = [&](int64_t t) {
    const int64_t batch = t / (rowChunks * colBlocks), rest = t % (rowChunks * colBlocks);
    const int64_t m0 = (rest / colBlocks) * rowChunk, n0 = (rest % colBlocks) * NC;
    if (m0 >= s.m) return;
    const MatrixView ab{a.data + batch * s.batchStrideA, a.rowStride, a.colStride};
    const MatrixView bb{b.data + batch * s.batchStrideB, b.rowStride, b.colStride};
    gemmTile(s, ab, bb, c + batch * s.m * s.n, m0, std::min(rowChunk, s.m - m0), n0, std::min(NC, s.n - n0), accumulate,
             epilogue);
  };
  if (parallel) pool->run(tiles, tile);
  else for (int64_t t = 0; t < tiles; t++) tile(t);
}
