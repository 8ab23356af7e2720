#include "fused.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "fastmath.h"
#include "gemm.h"

namespace {

// Elementwise work is split into chunks of this many elements; below kSerialBelow it stays on the
// calling thread, where a hand-off (~10 µs) would cost more than it saves.
constexpr int64_t kGrain = 1 << 14;
constexpr int64_t kSerialBelow = 1 << 15;
// Rows per partial sum of the layer-norm parameter gradients (the sum over rows).
constexpr int64_t kRowsPerPartial = 64;
// Query rows per attention block: the block's scores [kQueryBlock, keys] stay in L2.
constexpr int64_t kQueryBlock = 64;

constexpr float kGeluScale = 0.7978845608028654f;  // √(2/π)
constexpr float kGeluCubic = 0.044715f;

// σ(2u)·x with u = √(2/π)(x + 0.044715x³): GELU(x) = ½x(1 + tanh u) = x·σ(2u).
inline float geluSigmoid(float x) { return 1.f / (1.f + expApprox(-2.f * kGeluScale * x * (1.f + kGeluCubic * x * x))); }

__attribute__((target_clones("avx512f", "avx2", "default")))
void geluRange(const float* x, float* y, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; i++) y[i] = x[i] * geluSigmoid(x[i]);
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void geluGradRange(const float* x, const float* dy, float* dx, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; i++) {
    const float v = x[i], s = geluSigmoid(v);
    const float slope = v * v * (6.f * kGeluCubic * kGeluScale) + 2.f * kGeluScale;
    dx[i] = dy[i] * (s + v * (s * (1.f - s)) * slope);
  }
}

// e[j] = exp(x[j] − shift) for j < n.
__attribute__((target_clones("avx512f", "avx2", "default")))
void expShifted(const float* x, float shift, float scale, float* e, int64_t n) {
  for (int64_t j = 0; j < n; j++) e[j] = expApprox(x[j] * scale - shift);
}

float maxOf(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; j++) m = (x[j] != x[j] || x[j] > m) ? x[j] : m;
  return m;
}

float sumOf(const float* x, int64_t n) {
  float sum = 0.f;
  for (int64_t j = 0; j < n; j++) sum += x[j];
  return sum;
}

void elementwise(Pool& pool, int64_t n, const std::function<void(int64_t, int64_t)>& body) {
  parallelFor(pool, n, kGrain, kSerialBelow, body);
}

}  // namespace

// ---- layer norm -------------------------------------------------------------------------------

void layerNorm(Pool& pool, const float* x, const float* gain, const float* bias, float* y, float* normalized,
               float* rstd, int64_t rows, int64_t cols, float epsilon) {
  parallelFor(pool, rows, std::max<int64_t>(1, kGrain / cols), kSerialBelow / cols + 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const float* in = x + r * cols;
      float* norm = normalized + r * cols;
      float* out = y + r * cols;
      const float mean = sumOf(in, cols) / static_cast<float>(cols);
      float squares = 0.f;
      for (int64_t j = 0; j < cols; j++) squares += (in[j] - mean) * (in[j] - mean);
      const float reciprocal = 1.f / std::sqrt(squares / static_cast<float>(cols) + epsilon);
      rstd[r] = reciprocal;
      for (int64_t j = 0; j < cols; j++) norm[j] = (in[j] - mean) * reciprocal;
      if (bias) for (int64_t j = 0; j < cols; j++) out[j] = norm[j] * gain[j] + bias[j];
      else for (int64_t j = 0; j < cols; j++) out[j] = norm[j] * gain[j];
    }
  });
}

void layerNormGrad(Pool& pool, const float* dy, const float* normalized, const float* rstd, const float* gain,
                   float* dx, float* dgain, float* dbias, int64_t rows, int64_t cols) {
  const int64_t partials = (rows + kRowsPerPartial - 1) / kRowsPerPartial;
  std::vector<float> gainPartial(static_cast<size_t>(partials * cols), 0.f), biasPartial(dbias ? gainPartial.size() : 0, 0.f);
  auto part = [&](int64_t p) {
    float* pg = gainPartial.data() + p * cols;
    float* pb = dbias ? biasPartial.data() + p * cols : nullptr;
    thread_local std::vector<float> g;
    g.resize(static_cast<size_t>(cols));
    for (int64_t r = p * kRowsPerPartial; r < std::min(rows, (p + 1) * kRowsPerPartial); r++) {
      const float* d = dy + r * cols;
      const float* norm = normalized + r * cols;
      float* out = dx + r * cols;
      float sumG = 0.f, sumGNorm = 0.f;
      for (int64_t j = 0; j < cols; j++) {
        g[j] = d[j] * gain[j];
        sumG += g[j];
        sumGNorm += g[j] * norm[j];
      }
      const float meanG = sumG / static_cast<float>(cols), meanGNorm = sumGNorm / static_cast<float>(cols);
      for (int64_t j = 0; j < cols; j++) out[j] = (g[j] - meanG - norm[j] * meanGNorm) * rstd[r];
      for (int64_t j = 0; j < cols; j++) pg[j] += d[j] * norm[j];
      if (pb) for (int64_t j = 0; j < cols; j++) pb[j] += d[j];
    }
  };
  if (rows * cols < kSerialBelow) for (int64_t p = 0; p < partials; p++) part(p);
  else pool.run(partials, part);
  std::fill_n(dgain, cols, 0.f);
  if (dbias) std::fill_n(dbias, cols, 0.f);
  for (int64_t p = 0; p < partials; p++) {
    for (int64_t j = 0; j < cols; j++) dgain[j] += gainPartial[p * cols + j];
    if (dbias) for (int64_t j = 0; j < cols; j++) dbias[j] += biasPartial[p * cols + j];
  }
}

// ---- group norm (+ SiLU) ----------------------------------------------------------------------

namespace {

__attribute__((target_clones("avx512f", "avx2", "default")))
void scaleShiftRow(const float* norm, const float* scale, const float* shift, float* y, int64_t n, bool silu) {
  if (silu) for (int64_t c = 0; c < n; c++) {
      const float u = norm[c] * scale[c] + shift[c];
      y[c] = u * sigmoidApprox(u);
    }
  else for (int64_t c = 0; c < n; c++) y[c] = norm[c] * scale[c] + shift[c];
}

// dz = dy·act′(u), u = x̂·scale + shift; act′ of SiLU is σ(u)(1 + u(1 − σ(u))).
__attribute__((target_clones("avx512f", "avx2", "default")))
void activationGradRow(const float* dy, const float* norm, const float* scale, const float* shift, float* dz, int64_t n, bool silu) {
  if (silu) for (int64_t c = 0; c < n; c++) {
      const float u = norm[c] * scale[c] + shift[c], s = sigmoidApprox(u);
      dz[c] = dy[c] * s * (1.f + u * (1.f - s));
    }
  else for (int64_t c = 0; c < n; c++) dz[c] = dy[c];
}

}  // namespace

// Both passes run image by image (one task each) over whole pixels: per-channel sums in vector
// lanes, combined into group statistics, then expanded back to per-channel arrays, so every inner
// loop runs over all C contiguous channels rather than over a group's few.
namespace {

// acc[c] += x[c] (and the square of x[c] − center[c] when center is given), over one pixel's channels.
void accumulateRow(const float* __restrict x, const float* __restrict center, float* __restrict acc, int64_t n) {
  if (center) for (int64_t c = 0; c < n; c++) acc[c] += (x[c] - center[c]) * (x[c] - center[c]);
  else for (int64_t c = 0; c < n; c++) acc[c] += x[c];
}

// Per-channel values of per-group statistics: out[c] = f(Σ_{c' in c's group} perChannel[c']).
template <typename F>
void expandGroups(const float* perChannel, float* out, int64_t channels, int64_t groups, F f) {
  const int64_t width = channels / groups;
  for (int64_t j = 0; j < groups; j++) {
    double sum = 0;
    for (int64_t c = j * width; c < (j + 1) * width; c++) sum += perChannel[c];
    const float value = f(sum);
    std::fill_n(out + j * width, width, value);
  }
}

}  // namespace

void groupNorm(Pool& pool, const float* x, const float* scale, const float* shift, float* y, float* normalized, float* rstd,
               int64_t batch, int64_t pixels, int64_t channels, int64_t groups, float epsilon, bool silu) {
  const double count = static_cast<double>(pixels * (channels / groups));
  auto image = [&](int64_t b) {
    thread_local std::vector<float> acc, mean, reciprocal;
    acc.assign(static_cast<size_t>(channels), 0.f);
    mean.resize(static_cast<size_t>(channels));
    reciprocal.resize(static_cast<size_t>(channels));
    const float* in = x + b * pixels * channels;
    for (int64_t p = 0; p < pixels; p++) accumulateRow(in + p * channels, nullptr, acc.data(), channels);
    expandGroups(acc.data(), mean.data(), channels, groups, [&](double sum) { return static_cast<float>(sum / count); });
    acc.assign(static_cast<size_t>(channels), 0.f);
    for (int64_t p = 0; p < pixels; p++) accumulateRow(in + p * channels, mean.data(), acc.data(), channels);
    expandGroups(acc.data(), reciprocal.data(), channels, groups,
                 [&](double squares) { return 1.f / std::sqrt(static_cast<float>(squares / count) + epsilon); });
    for (int64_t j = 0; j < groups; j++) rstd[b * groups + j] = reciprocal[j * (channels / groups)];
    for (int64_t p = 0; p < pixels; p++) {
      const int64_t offset = (b * pixels + p) * channels;
      for (int64_t c = 0; c < channels; c++) normalized[offset + c] = (x[offset + c] - mean[c]) * reciprocal[c];
      scaleShiftRow(normalized + offset, scale, shift, y + offset, channels, silu);
    }
  };
  if (batch * pixels * channels < kSerialBelow) for (int64_t b = 0; b < batch; b++) image(b);
  else pool.run(batch, image);
}

namespace {

// One pixel's channels: dz (already dy·act′) into the sums the backward pass needs.
void gradientSumsRow(const float* __restrict dz, const float* __restrict norm, const float* __restrict scale,
                     float* __restrict sumG, float* __restrict sumGNorm, float* __restrict dscale, float* __restrict dshift,
                     int64_t n) {
  for (int64_t c = 0; c < n; c++) {
    const float g = dz[c] * scale[c];
    sumG[c] += g;
    sumGNorm[c] += g * norm[c];
    dscale[c] += dz[c] * norm[c];
    dshift[c] += dz[c];
  }
}

}  // namespace

void groupNormGrad(Pool& pool, const float* dy, const float* normalized, const float* rstd, const float* scale,
                   const float* shift, float* dx, float* dscale, float* dshift, int64_t batch, int64_t pixels, int64_t channels,
                   int64_t groups, bool silu) {
  const int64_t width = channels / groups;
  const double count = static_cast<double>(pixels * width);
  // Per image, the parameter gradients of its channels; summed over images in order below.
  std::vector<float> scalePartial(static_cast<size_t>(batch * channels), 0.f), shiftPartial(scalePartial.size(), 0.f);
  auto image = [&](int64_t b) {
    thread_local std::vector<float> sumG, sumGNorm, meanG, meanGNorm, reciprocal;
    sumG.assign(static_cast<size_t>(channels), 0.f);
    sumGNorm.assign(static_cast<size_t>(channels), 0.f);
    meanG.resize(static_cast<size_t>(channels));
    meanGNorm.resize(static_cast<size_t>(channels));
    reciprocal.resize(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; c++) reciprocal[c] = rstd[b * groups + c / width];
    float* ps = scalePartial.data() + b * channels;
    float* pb = shiftPartial.data() + b * channels;
    // dx holds dz = dy·act′ until the last pass overwrites it.
    for (int64_t p = 0; p < pixels; p++) {
      const int64_t offset = (b * pixels + p) * channels;
      activationGradRow(dy + offset, normalized + offset, scale, shift, dx + offset, channels, silu);
      gradientSumsRow(dx + offset, normalized + offset, scale, sumG.data(), sumGNorm.data(), ps, pb, channels);
    }
    expandGroups(sumG.data(), meanG.data(), channels, groups, [&](double sum) { return static_cast<float>(sum / count); });
    expandGroups(sumGNorm.data(), meanGNorm.data(), channels, groups, [&](double sum) { return static_cast<float>(sum / count); });
    for (int64_t p = 0; p < pixels; p++) {
      const int64_t offset = (b * pixels + p) * channels;
      for (int64_t c = 0; c < channels; c++)
        dx[offset + c] = (dx[offset + c] * scale[c] - meanG[c] - normalized[offset + c] * meanGNorm[c]) * reciprocal[c];
    }
  };
  if (batch * pixels * channels < kSerialBelow) for (int64_t b = 0; b < batch; b++) image(b);
  else pool.run(batch, image);
  std::fill_n(dscale, channels, 0.f);
  std::fill_n(dshift, channels, 0.f);
  for (int64_t b = 0; b < batch; b++)
    for (int64_t c = 0; c < channels; c++) {
      dscale[c] += scalePartial[b * channels + c];
      dshift[c] += shiftPartial[b * channels + c];
    }
}

// ---- GELU -------------------------------------------------------------------------------------

void gelu(Pool& pool, const float* x, float* y, int64_t n) {
  elementwise(pool, n, [&](int64_t begin, int64_t end) { geluRange(x, y, begin, end); });
}

void geluGrad(Pool& pool, const float* x, const float* dy, float* dx, int64_t n) {
  elementwise(pool, n, [&](int64_t begin, int64_t end) { geluGradRange(x, dy, dx, begin, end); });
}

// ---- softmax + cross-entropy ------------------------------------------------------------------

int64_t softmaxCrossEntropy(Pool& pool, const float* logits, const int32_t* targets, float* probabilities,
                            int64_t rows, int64_t cols, double* loss) {
  for (int64_t r = 0; r < rows; r++)
    if (targets[r] < 0 || targets[r] >= cols) return r;
  std::vector<double> rowLoss(static_cast<size_t>(rows));
  parallelFor(pool, rows, std::max<int64_t>(1, kGrain / cols), kSerialBelow / cols + 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const float* in = logits + r * cols;
      float* p = probabilities + r * cols;
      const float m = maxOf(in, cols);
      expShifted(in, m, 1.f, p, cols);
      const float sum = sumOf(p, cols);
      for (int64_t j = 0; j < cols; j++) p[j] /= sum;
      rowLoss[r] = static_cast<double>(m) + std::log(static_cast<double>(sum)) - static_cast<double>(in[targets[r]]);
    }
  });
  double total = 0;
  for (double value : rowLoss) total += value;
  *loss = total / static_cast<double>(rows);
  return -1;
}

void softmaxCrossEntropyGrad(Pool& pool, const float* probabilities, const int32_t* targets, float scale,
                             float* dlogits, int64_t rows, int64_t cols) {
  parallelFor(pool, rows, std::max<int64_t>(1, kGrain / cols), kSerialBelow / cols + 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const float* p = probabilities + r * cols;
      float* d = dlogits + r * cols;
      for (int64_t j = 0; j < cols; j++) d[j] = p[j] * scale;
      d[targets[r]] = (p[targets[r]] - 1.f) * scale;
    }
  });
}

// ---- causal attention -------------------------------------------------------------------------

namespace {

// Where one (sequence, head) pair's queries, keys and values sit in qkv, and its output columns.
struct HeadView {
  const float* query;  // row i at query + i·qkvStride
  const float* key;
  const float* value;
  ptrdiff_t qkvStride;
  int64_t outOffset;   // row i of this head's output at out + outOffset + i·dim
};

HeadView headView(const float* qkv, int64_t task, int64_t length, int64_t heads, int64_t headDim) {
  const int64_t b = task / heads, h = task % heads, dim = heads * headDim;
  const float* base = qkv + b * length * 3 * dim + h * headDim;
  return {base, base + dim, base + 2 * dim, 3 * dim, b * length * dim + h * headDim};
}

// Probabilities of queries [first, first + rows) over keys [0, keys) from their scores (in place):
// exp(scale·s − lse) for keys at or before the query, 0 after it.
void maskedProbabilities(float* scores, int64_t first, int64_t rows, int64_t keys, const float* lse, float scale) {
  for (int64_t r = 0; r < rows; r++) {
    float* s = scores + r * keys;
    const int64_t visible = first + r + 1;
    expShifted(s, lse[first + r], scale, s, visible);
    std::fill(s + visible, s + keys, 0.f);
  }
}

}  // namespace

void causalAttention(Pool& pool, const float* qkv, float* out, float* logsumexp, int64_t batch, int64_t length,
                     int64_t heads, int64_t headDim, float scale) {
  const int64_t dim = heads * headDim;
  pool.run(batch * heads, [&](int64_t task) {
    const HeadView v = headView(qkv, task, length, heads, headDim);
    float* lse = logsumexp + task * length;
    thread_local std::vector<float> scores, mixed;
    for (int64_t first = 0; first < length; first += kQueryBlock) {
      const int64_t rows = std::min(kQueryBlock, length - first), keys = first + rows;
      scores.resize(static_cast<size_t>(rows * keys));
      mixed.resize(static_cast<size_t>(rows * headDim));
      // scores = Q_block · Kᵀ (keys up to the block's last query)
      gemm(nullptr, {1, rows, keys, headDim, 0, 0}, {v.query + first * v.qkvStride, v.qkvStride, 1}, {v.key, 1, v.qkvStride},
           scores.data(), false);
      for (int64_t r = 0; r < rows; r++) {
        float* s = scores.data() + r * keys;
        const int64_t visible = first + r + 1;
        const float m = maxOf(s, visible) * scale;
        expShifted(s, m, scale, s, visible);
        const float sum = sumOf(s, visible);
        lse[first + r] = m + std::log(sum);
        for (int64_t j = 0; j < visible; j++) s[j] /= sum;
        std::fill(s + visible, s + keys, 0.f);
      }
      // out_block = P · V
      gemm(nullptr, {1, rows, headDim, keys, 0, 0}, {scores.data(), keys, 1}, {v.value, v.qkvStride, 1}, mixed.data(), false);
      for (int64_t r = 0; r < rows; r++)
        std::memcpy(out + v.outOffset + (first + r) * dim, mixed.data() + r * headDim, sizeof(float) * headDim);
    }
  });
}

void causalAttentionGrad(Pool& pool, const float* qkv, const float* out, const float* dout, const float* logsumexp,
                         float* dqkv, int64_t batch, int64_t length, int64_t heads, int64_t headDim, float scale) {
  const int64_t dim = heads * headDim;
  pool.run(batch * heads, [&](int64_t task) {
    const HeadView v = headView(qkv, task, length, heads, headDim);
    const float* lse = logsumexp + task * length;
    const float* dO = dout + v.outOffset;
    float* dBase = dqkv + (v.query - qkv);
    thread_local std::vector<float> probabilities, dscores, dquery, dkey, dvalue, rowDot;
    dkey.assign(static_cast<size_t>(length * headDim), 0.f);
    dvalue.assign(static_cast<size_t>(length * headDim), 0.f);
    for (int64_t first = 0; first < length; first += kQueryBlock) {
      const int64_t rows = std::min(kQueryBlock, length - first), keys = first + rows;
      probabilities.resize(static_cast<size_t>(rows * keys));
      dscores.resize(static_cast<size_t>(rows * keys));
      dquery.resize(static_cast<size_t>(rows * headDim));
      rowDot.resize(static_cast<size_t>(rows));
      const MatrixView queryBlock{v.query + first * v.qkvStride, v.qkvStride, 1};
      const MatrixView doutBlock{dO + first * dim, dim, 1};
      gemm(nullptr, {1, rows, keys, headDim, 0, 0}, queryBlock, {v.key, 1, v.qkvStride}, probabilities.data(), false);
      maskedProbabilities(probabilities.data(), first, rows, keys, lse, scale);
      // dV += Pᵀ · dO
      gemm(nullptr, {1, keys, headDim, rows, 0, 0}, {probabilities.data(), 1, keys}, doutBlock, dvalue.data(), true);
      // dP = dO · Vᵀ; dS = P ∘ (dP − rowsum(dO ∘ O)) · scale
      gemm(nullptr, {1, rows, keys, headDim, 0, 0}, doutBlock, {v.value, 1, v.qkvStride}, dscores.data(), false);
      for (int64_t r = 0; r < rows; r++) {
        const float* o = out + v.outOffset + (first + r) * dim;
        const float* d = dO + (first + r) * dim;
        float dot = 0.f;
        for (int64_t c = 0; c < headDim; c++) dot += d[c] * o[c];
        const float* p = probabilities.data() + r * keys;
        float* ds = dscores.data() + r * keys;
        for (int64_t j = 0; j < keys; j++) ds[j] = p[j] * (ds[j] - dot) * scale;
      }
      // dQ_block = dS · K; dK += dSᵀ · Q_block
      gemm(nullptr, {1, rows, headDim, keys, 0, 0}, {dscores.data(), keys, 1}, {v.key, v.qkvStride, 1}, dquery.data(), false);
      gemm(nullptr, {1, keys, headDim, rows, 0, 0}, {dscores.data(), 1, keys}, queryBlock, dkey.data(), true);
      for (int64_t r = 0; r < rows; r++)
        std::memcpy(dBase + (first + r) * v.qkvStride, dquery.data() + r * headDim, sizeof(float) * headDim);
    }
    for (int64_t j = 0; j < length; j++) {
      std::memcpy(dBase + dim + j * v.qkvStride, dkey.data() + j * headDim, sizeof(float) * headDim);
      std::memcpy(dBase + 2 * dim + j * v.qkvStride, dvalue.data() + j * headDim, sizeof(float) * headDim);
    }
  });
}

void cachedAttention(Pool& pool, const float* qkv, float* keyCache, float* valueCache, float* out, int64_t batch,
                     int64_t length, int64_t heads, int64_t headDim, int64_t start, int64_t capacity, float scale) {
  const int64_t dim = heads * headDim;
  auto task = [&](int64_t t) {
    const HeadView v = headView(qkv, t, length, heads, headDim);
    float* keys = keyCache + t * capacity * headDim;
    float* values = valueCache + t * capacity * headDim;
    for (int64_t i = 0; i < length; i++) {
      std::memcpy(keys + (start + i) * headDim, v.key + i * v.qkvStride, sizeof(float) * headDim);
      std::memcpy(values + (start + i) * headDim, v.value + i * v.qkvStride, sizeof(float) * headDim);
    }
    thread_local std::vector<float> scores;
    scores.resize(static_cast<size_t>(start + length));
    for (int64_t i = 0; i < length; i++) {
      const float* q = v.query + i * v.qkvStride;
      const int64_t visible = start + i + 1;
      for (int64_t j = 0; j < visible; j++) {
        const float* k = keys + j * headDim;
        float dot = 0.f;
        for (int64_t c = 0; c < headDim; c++) dot += q[c] * k[c];
        scores[j] = dot;
      }
      const float m = maxOf(scores.data(), visible) * scale;
      expShifted(scores.data(), m, scale, scores.data(), visible);
      const float sum = sumOf(scores.data(), visible);
      float* o = out + v.outOffset + i * dim;
      std::fill_n(o, headDim, 0.f);
      for (int64_t j = 0; j < visible; j++) {
        const float p = scores[j] / sum;
        const float* value = values + j * headDim;
        for (int64_t c = 0; c < headDim; c++) o[c] += p * value[c];
      }
    }
  };
  if (batch * heads * (start + length) * headDim < kSerialBelow) for (int64_t t = 0; t < batch * heads; t++) task(t);
  else pool.run(batch * heads, task);
}

// ---- optimizer --------------------------------------------------------------------------------

namespace {

// Eight running sums, element i into sum i mod 8, added at the end: a fixed order (the same bytes
// on any machine) that the compiler can keep in vector lanes.
__attribute__((target_clones("avx512f", "avx2", "default")))
double sumOfSquaresRange(const float* x, int64_t begin, int64_t end) {
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = begin;
  for (; i + 8 <= end; i += 8)
    for (int l = 0; l < 8; l++) lanes[l] += static_cast<double>(x[i + l]) * x[i + l];
  for (int l = 0; i < end; i++, l++) lanes[l] += static_cast<double>(x[i]) * x[i];
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

}  // namespace

double sumOfSquares(Pool& pool, const float* x, int64_t n) {
  const int64_t chunks = (n + kGrain - 1) / kGrain;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
  auto chunk = [&](int64_t c) { partial[c] = sumOfSquaresRange(x, c * kGrain, std::min(n, (c + 1) * kGrain)); };
  if (n < kSerialBelow) for (int64_t c = 0; c < chunks; c++) chunk(c);
  else pool.run(chunks, chunk);
  double total = 0;
  for (double value : partial) total += value;
  return total;
}

namespace {

// Locals and restrict pointers, not the lambda's captures, so the loop vectorizes (in double).
__attribute__((target_clones("avx512f", "avx2", "default")))
void adamwRange(AdamStep s, const float* __restrict theta, const float* __restrict grad, const float* __restrict m,
                const float* __restrict v, float* __restrict newTheta, float* __restrict newM, float* __restrict newV,
                int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; i++) {
    const double g = static_cast<double>(grad[i]) * s.gradScale;
    const double mi = s.beta1 * m[i] + (1 - s.beta1) * g;
    const double vi = s.beta2 * v[i] + (1 - s.beta2) * g * g;
    newM[i] = static_cast<float>(mi);
    newV[i] = static_cast<float>(vi);
    newTheta[i] = static_cast<float>(theta[i] - s.learningRate * (mi / s.correction1 / (std::sqrt(vi / s.correction2) + s.epsilon) + s.decay * theta[i]));
  }
}

}  // namespace

void adamw(Pool& pool, const AdamStep& s, const float* theta, const float* grad, const float* m, const float* v,
           float* newTheta, float* newM, float* newV, int64_t n) {
  elementwise(pool, n, [&](int64_t begin, int64_t end) { adamwRange(s, theta, grad, m, v, newTheta, newM, newV, begin, end); });
}
